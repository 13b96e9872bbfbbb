package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"huzhu/model"
	"huzhu/service/stats"
)

// statsCmd is `huzhu stats`: the plan's figures, and one year's by union and claim type.
func statsCmd(e *env) *cobra.Command {
	var year int
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print members covered, workers helped and money paid, and a year by union and claim type",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := e.openDB(cmd.Context())
			if err != nil {
				return err
			}
			kvs, err := e.openKV(cmd.Context())
			if err != nil {
				return err
			}
			svc := stats.New(db, kvs, time.Minute, time.Now)
			if err := svc.Invalidate(cmd.Context()); err != nil {
				return err
			}
			o, err := svc.Overview(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "截至 %s：%d 个基层工会，花名册 %d 人，今天在保 %d 人；累计受助 %d 人、%d 人次，已到账 %s 元，在途 %s 元\n",
				o.AsOf.Format("2006-01-02 15:04"), o.Unions, o.Members, o.Covered, o.Helped, o.Payouts, o.PaidFen.YuanGrouped(), o.PendingFen.YuanGrouped())
			if year == 0 {
				year = time.Now().In(model.Shanghai).Year()
			}
			b, err := svc.Breakdown(cmd.Context(), year)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout)
			var tb table
			tb.row(fmt.Sprintf("%d年", year), "受助人数", "人次", "已到账(元)")
			for _, g := range append(b.ByClaimType, b.ByUnion...) {
				tb.row(g.Label, fmt.Sprint(g.Helped), fmt.Sprint(g.Payouts), g.PaidFen.YuanGrouped())
			}
			return tb.write(e.stdout)
		},
	}
	cmd.Flags().IntVar(&year, "year", 0, "the year to break down (default: this year)")
	return cmd
}
