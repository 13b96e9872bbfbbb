package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"huzhu/service/payment"
)

// payCmd is `huzhu pay`: transfer files out, bank results in, re-issues and reconciliation.
func payCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "pay", Short: "Pay approved runs through the banks and reconcile them"}
	var outDir string
	export := &cobra.Command{
		Use:   "export RUN_ID",
		Short: "Write one transfer file per bank for the run's payable lines (account numbers in clear: keep the files safe)",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "run id")
			if err != nil {
				return err
			}
			svc, err := e.paymentService(cmd)
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			exp, err := svc.Export(cmd.Context(), id, who)
			if err != nil {
				return err
			}
			for _, f := range exp.Files {
				if err := writeBankFile(e, outDir, f, ""); err != nil {
					return fmt.Errorf("%w (the transfers are recorded: write the file again with `huzhu pay rebuild %d`)", err, f.BatchID)
				}
			}
			if len(exp.Files) == 0 {
				fmt.Fprintln(e.stdout, "没有需要转账的款项")
			}
			if exp.WaitingMembers > 0 {
				fmt.Fprintf(e.stdout, "%d 名职工还没有可用的京卡或银行卡，款项暂缓发放\n", exp.WaitingMembers)
			}
			for _, h := range exp.Held {
				fmt.Fprintln(e.stdout, h.Message)
			}
			return nil
		},
	}
	export.Flags().StringVar(&outDir, "out", ".", "folder for the transfer files")

	var rebuildDir string
	rebuild := &cobra.Command{
		Use:   "rebuild BATCH_ID",
		Short: "Write an exported batch's transfer file again, as exported, when it was lost before it reached the bank (audited)",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "batch id")
			if err != nil {
				return err
			}
			svc, err := e.paymentService(cmd)
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			f, err := svc.Rebuild(cmd.Context(), id, who)
			if err != nil {
				return err
			}
			return writeBankFile(e, rebuildDir, f, "，重新生成")
		},
	}
	rebuild.Flags().StringVar(&rebuildDir, "out", ".", "folder for the transfer file")

	importResult := &cobra.Command{
		Use:   "import-result FILE",
		Short: "Apply a bank's result file (CSV, UTF-8 or GBK: 转账编号,结果,原因,到账时间)",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			svc, err := e.paymentService(cmd)
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			rep, err := svc.ImportResult(cmd.Context(), filepath.Base(args[0]), f, who)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d 行：到账 %d，失败 %d，此前已处理 %d，有问题 %d\n", rep.Rows, rep.Arrived, rep.Failed, rep.Unchanged, len(rep.Problems))
			for _, p := range rep.Problems {
				fmt.Fprintf(e.stdout, "  第 %d 行 %s：%s\n", p.Row, p.Column, p.Message)
			}
			return nil
		},
	}
	reissue := &cobra.Command{
		Use:   "reissue TRANSFER_ID",
		Short: "Put a failed transfer's lines back in line for the next export (after the account was fixed)",
		Args:  oneArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0], "transfer id")
			if err != nil {
				return err
			}
			svc, err := e.paymentService(cmd)
			if err != nil {
				return err
			}
			who, err := e.staffActor(cmd)
			if err != nil {
				return err
			}
			if err := svc.Reissue(cmd.Context(), id, who); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "转账 %d 将在下次导出时重新发放\n", id)
			return nil
		},
	}
	var year int
	reconcile := &cobra.Command{
		Use:   "reconcile (RUN_ID | --year YYYY)",
		Short: "Account for every fen of a run or of a year's runs; exits non-zero on any mismatch",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := e.paymentService(cmd)
			if err != nil {
				return err
			}
			var r payment.Reconciliation
			switch {
			case len(args) == 1 && year == 0:
				id, err := parseID(args[0], "run id")
				if err != nil {
					return err
				}
				if r, err = svc.Reconcile(cmd.Context(), id); err != nil {
					return err
				}
			case len(args) == 0 && year > 0:
				y, err := svc.ReconcileYear(cmd.Context(), year)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d 年共 %d 个核算批次\n", year, len(y.Runs))
				r = y.Total
			default:
				return fmt.Errorf("give a run id or --year, not both")
			}
			who := fmt.Sprintf("批次 %d", r.RunID)
			if r.RunID == 0 {
				who = "合计"
			}
			fmt.Fprintf(e.stdout, "%s：%d 条记录，%d 笔应付，核算 %s 元 = 未审核 %s + 待发放 %s + 转账中 %s + 已到账 %s + 失败 %s；累计导出 %s 元\n",
				who, r.Records, r.Lines, r.Computed.YuanGrouped(), r.NotApproved.YuanGrouped(), r.Waiting.YuanGrouped(),
				r.InTransfer.YuanGrouped(), r.Arrived.YuanGrouped(), r.Failed.YuanGrouped(), r.Exported.YuanGrouped())
			if !r.Balanced() {
				for _, m := range r.Mismatches {
					fmt.Fprintln(e.stdout, "  不一致：", m)
				}
				return fmt.Errorf("the accounts do not balance: %d mismatches", len(r.Mismatches))
			}
			fmt.Fprintln(e.stdout, "账目相符")
			return nil
		},
	}
	reconcile.Flags().IntVar(&year, "year", 0, "reconcile every run of this year's periods")
	cmd.AddCommand(export, rebuild, importResult, reissue, reconcile)
	return cmd
}

// paymentService builds the payment service over the configured stores.
func (e *env) paymentService(cmd *cobra.Command) (*payment.Service, error) {
	db, err := e.openDB(cmd.Context())
	if err != nil {
		return nil, err
	}
	cipher, err := e.piiCipher()
	if err != nil {
		return nil, err
	}
	return payment.New(db, cipher, e.cal, nil, e.log), nil
}

func parseID(s, what string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%s %q: want a positive number", what, s)
	}
	return id, nil
}

// writeBankFile writes f into dir (made if missing; owner-only, the file holds account numbers)
// and says so, with note after the batch id.
func writeBankFile(e *env, dir string, f payment.File, note string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--out %s: %w", dir, err)
	}
	path := filepath.Join(dir, f.Name)
	if err := os.WriteFile(path, f.CSV, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	fmt.Fprintf(e.stdout, "%s：%d 笔，%s 元 → %s（批次 %d%s）\n", f.Bank.Label(), f.Transfers, f.TotalFen.YuanGrouped(), path, f.BatchID, note)
	return nil
}
