package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// settleCmd is `huzhu settle`: compute a period's draft run, or approve a computed run.
func settleCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settle PERIOD",
		Short: "Compute (or recompute) the draft settlement run of a period: 2025-Q1 is outpatient, 2025-03 inpatient",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, cal, err := e.settlementService(cmd.Context())
			if err != nil {
				return err
			}
			p, err := cal.ParsePeriod(args[0])
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			run, err := svc.Compute(cmd.Context(), p, who)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s%s核算完成（第%d次）：批次 %d，%d 名职工，%d 笔互助金共 %s 元，%d 笔不符合条件\n",
				p.Label(), p.Class.Label(), run.Attempt, run.ID, run.Members, run.Lines, run.TotalFen.YuanGrouped(), run.Rejected)
			fmt.Fprintf(e.stdout, "审核：huzhu settle approve %d\n", run.ID)
			return nil
		},
	}
	approve := &cobra.Command{
		Use:   "approve RUN_ID",
		Short: "Approve a computed draft run: freezes its lines and queues the approval notices (writes an audit row)",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "run id")
			if err != nil {
				return err
			}
			svc, _, err := e.settlementService(cmd.Context())
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			run, err := svc.Approve(cmd.Context(), id, who)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "批次 %d（%s %s）已审核：%s 元；预计到账通知已排队发送\n", run.ID, run.Period,
				run.Class.Label(), run.TotalFen.YuanGrouped())
			return nil
		},
	}
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List settlement runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, _, err := e.settlementService(cmd.Context())
			if err != nil {
				return err
			}
			runs, err := svc.Runs(cmd.Context(), limit)
			if err != nil {
				return err
			}
			var tb table
			tb.row("批次", "核算期", "类别", "状态", "职工", "笔数", "金额(元)")
			for _, r := range runs {
				tb.row(fmt.Sprint(r.ID), r.Period, r.Class.Label(), r.Status.Label(), fmt.Sprint(r.Members), fmt.Sprint(r.Lines), r.TotalFen.YuanGrouped())
			}
			return tb.write(e.stdout)
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many runs")
	cmd.AddCommand(approve, list)
	return cmd
}
