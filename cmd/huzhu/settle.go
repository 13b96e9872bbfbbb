package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
)

// settleCmd is `huzhu settle`: compute a period's draft run, or approve a computed run.
func settleCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "settle PERIOD",
		Short: "Compute (or recompute) the draft settlement run of a period: 2025-Q1 is outpatient, 2025-03 inpatient",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, cal, err := e.settlementService(cmd.Context())
			if err != nil {
				return err
			}
			p, err := cal.ParsePeriod(args[0])
			if err != nil {
				return err
			}
			run, err := svc.Compute(cmd.Context(), p, e.actor())
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
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("run id %q: want the number printed by `huzhu settle PERIOD`", args[0])
			}
			svc, _, err := e.settlementService(cmd.Context())
			if err != nil {
				return err
			}
			run, err := svc.Approve(cmd.Context(), id, e.actor())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "批次 %d（%s %s）已审核：%s 元；预计到账通知已排队发送\n", run.ID, run.Period,
				run.Class.Label(), run.TotalFen.YuanGrouped())
			return nil
		},
	}
	cmd.AddCommand(approve)
	return cmd
}
