package admin

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/job"
	"huzhu/service/payment"
	"huzhu/service/staff"
)

func (a *Admin) payments(c *fiber.Ctx, st staff.Staff) error {
	rs, err := a.d.Settlement.Runs(c.UserContext(), 50)
	if err != nil {
		return err
	}
	var payable []model.SettlementRun
	for _, r := range rs {
		if r.Status != model.RunDraft {
			payable = append(payable, r)
		}
	}
	failed, err := a.d.Staff.FailedTransfers(c.UserContext(), st, 100)
	if err != nil {
		return err
	}
	return a.render(c, "payments", view{Title: "支付", Nav: "payments", Staff: st, Flash: c.Query("flash"), Data: struct {
		Runs   []model.SettlementRun
		Failed []staff.FailedTransfer
		CanPay bool
	}{payable, failed, st.Can(staff.Pay)}})
}

// reissue puts a failed transfer back in line for the next export, once staff fixed the
// member's account.
func (a *Admin) reissue(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.FormValue("id"), 10, 64)
	if err != nil {
		return errs.NotFound("transfer.not_found", "没有这笔转账")
	}
	if err := a.d.Payment.Reissue(c.UserContext(), id, a.actor(c, st)); err != nil {
		return err
	}
	return c.Redirect(prefix+"/payments?flash="+url.QueryEscape(fmt.Sprintf("转账 %d 已重新排队，下次导出时发出", id)), fiber.StatusSeeOther)
}

// export starts the export job of a run and sends staff to its page. The bank files hold full
// account numbers: the job keeps their zip sealed for the person who exported it, for a short
// time (job.Options.KeepFiles), and the page downloads it.
func (a *Admin) export(c *fiber.Ctx, st staff.Staff) error {
	if err := a.d.Jobs.May(a.actor(c, st), model.ActDownloadFiles); err != nil {
		return err
	}
	id, err := strconv.ParseUint(c.FormValue("run_id"), 10, 64)
	if err != nil {
		return errs.Invalid("run_id", "请选择结算批次", "在列表中点“导出”")
	}
	who := a.actor(c, st)
	return a.startJob(c, st, job.Spec{Kind: model.JobExport, Subject: fmt.Sprintf("结算批次 %d", id), Need: model.ActDownloadFiles}, func(ctx context.Context, t *job.Task) (any, error) {
		t.Stage("生成转账明细")
		ex, err := a.d.Payment.Export(ctx, id, who)
		if err != nil {
			return nil, err
		}
		res := exportResult{RunID: id, WaitingMembers: ex.WaitingMembers}
		for _, h := range ex.Held {
			res.Held = append(res.Held, heldJSON{h.MemberID, h.Message})
		}
		for _, f := range ex.Files {
			res.Files = append(res.Files, exportFile{Bank: string(f.Bank), BankLabel: f.Bank.Label(), Name: f.Name, Transfers: f.Transfers, TotalFen: f.TotalFen})
		}
		if len(ex.Files) == 0 {
			return res, nil
		}
		return res, a.keepFiles(ctx, t, fmt.Sprintf("run-%d-bank-files.zip", id), ex.Files)
	})
}

// keepFiles zips bank files and keeps the zip sealed with the job, for its maker to download.
func (a *Admin) keepFiles(ctx context.Context, t *job.Task, name string, files []payment.File) error {
	t.Stage("加密保存文件")
	b, err := zipFiles(files, a.d.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return t.Keep(ctx, name, b)
}

// zipFiles packs the bank files in one zip.
func zipFiles(files []payment.File, at time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: at})
		if err != nil {
			return nil, fmt.Errorf("zip: %w", err)
		}
		if _, err := w.Write(f.CSV); err != nil {
			return nil, fmt.Errorf("zip: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("zip: %w", err)
	}
	return buf.Bytes(), nil
}

// results starts the job that applies a bank's result file and sends staff to its page.
func (a *Admin) results(c *fiber.Ctx, st staff.Staff) error {
	if err := a.d.Jobs.May(a.actor(c, st), model.ActPay); err != nil {
		return err
	}
	name, sp, err := a.spoolUpload(c)
	if err != nil {
		return err
	}
	who := a.actor(c, st)
	return a.startJob(c, st, job.Spec{Kind: model.JobBankResult, Subject: name, Input: sp, Need: model.ActPay}, func(ctx context.Context, t *job.Task) (any, error) {
		r, err := sp.Open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		t.Stage("逐笔记账")
		rep, err := a.d.Payment.ImportResult(ctx, name, r, who)
		if err != nil {
			return nil, err
		}
		return newBankResult(name, rep), nil
	})
}

func (a *Admin) reconcile(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.Params("id"), 10, 64)
	if err != nil {
		return errs.NotFound("run.not_found", "没有这个结算批次")
	}
	rec, err := a.d.Payment.Reconcile(c.UserContext(), id)
	if err != nil {
		return err
	}
	batches, err := a.d.Payment.Batches(c.UserContext(), id)
	if err != nil {
		return err
	}
	return a.render(c, "reconcile", view{Title: "对账", Nav: "payments", Staff: st, Data: struct {
		payment.Reconciliation
		Batches    []model.PaymentBatch
		CanRebuild bool
	}{rec, batches, st.Can(staff.DownloadFiles)}})
}

// rebuild writes a lost bank file again (payment.Rebuild) in a job, kept sealed for its maker
// like an export's.
func (a *Admin) rebuild(c *fiber.Ctx, st staff.Staff) error {
	if err := a.d.Jobs.May(a.actor(c, st), model.ActDownloadFiles); err != nil {
		return err
	}
	id, err := strconv.ParseUint(c.FormValue("batch_id"), 10, 64)
	if err != nil {
		return errs.Invalid("batch_id", "请选择转账批次", "在对账页的文件列表中点“重新生成”")
	}
	who := a.actor(c, st)
	return a.startJob(c, st, job.Spec{Kind: model.JobExport, Subject: fmt.Sprintf("转账文件 %d（重新生成）", id), Need: model.ActDownloadFiles}, func(ctx context.Context, t *job.Task) (any, error) {
		t.Stage("重新生成转账文件")
		f, err := a.d.Payment.Rebuild(ctx, id, who)
		if err != nil {
			return nil, err
		}
		res := exportResult{RunID: f.RunID, Files: []exportFile{{Bank: string(f.Bank), BankLabel: f.Bank.Label(), Name: f.Name, Transfers: f.Transfers, TotalFen: f.TotalFen}}}
		return res, a.keepFiles(ctx, t, fmt.Sprintf("batch-%d-bank-file.zip", id), []payment.File{f})
	})
}

func (a *Admin) reconcileYear(c *fiber.Ctx, st staff.Staff) error {
	year := a.d.Now().In(model.Shanghai).Year()
	if y, err := strconv.Atoi(c.Query("year")); err == nil && y >= 2000 && y <= 2100 {
		year = y
	}
	rec, err := a.d.Payment.ReconcileYear(c.UserContext(), year)
	if err != nil {
		return err
	}
	return a.render(c, "year", view{Title: fmt.Sprintf("%d 年对账", year), Nav: "payments", Staff: st, Data: rec})
}
