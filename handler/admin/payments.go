package admin

import (
	"archive/zip"
	"bytes"
	"fmt"
	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/payment"
	"huzhu/service/staff"
	"net/url"
	"strconv"

	"github.com/gofiber/fiber/v2"
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
	if err := a.d.Payment.Reissue(c.UserContext(), id, st.Username); err != nil {
		return err
	}
	return c.Redirect(prefix+"/payments?flash="+url.QueryEscape(fmt.Sprintf("转账 %d 已重新排队，下次导出时发出", id)), fiber.StatusSeeOther)
}

// export answers with a zip of the bank files: they hold full account numbers, so they are
// never kept on the server nor shown in a page.
func (a *Admin) export(c *fiber.Ctx, st staff.Staff) error {
	id, err := strconv.ParseUint(c.FormValue("run_id"), 10, 64)
	if err != nil {
		return errs.Invalid("run_id", "请选择结算批次", "在列表中点“导出”")
	}
	ex, err := a.d.Payment.Export(c.UserContext(), id, st.Username)
	if err != nil {
		return err
	}
	if len(ex.Files) == 0 {
		msg := "没有需要转账的明细"
		if ex.WaitingMembers > 0 {
			msg += fmt.Sprintf("；%d 位会员尚无收款账户", ex.WaitingMembers)
		}
		return c.Redirect(prefix+"/payments?flash="+url.QueryEscape(msg), fiber.StatusSeeOther)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range ex.Files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: a.d.Now()})
		if err != nil {
			return fmt.Errorf("export run %d: zip: %w", id, err)
		}
		if _, err := w.Write(f.CSV); err != nil {
			return fmt.Errorf("export run %d: zip: %w", id, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("export run %d: zip: %w", id, err)
	}
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="run-%d-bank-files.zip"`, id))
	c.Set("Cache-Control", "no-store")
	c.Type("zip")
	return c.Send(buf.Bytes())
}

func (a *Admin) results(c *fiber.Ctx, st staff.Staff) error {
	name, r, err := formFile(c)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := a.d.Payment.ImportResult(c.UserContext(), name, r, st.Username)
	if err != nil {
		return err
	}
	return a.render(c, "results", view{Title: "银行回盘", Nav: "payments", Staff: st, Data: struct {
		Name   string
		Report payment.ResultReport
	}{name, rep}})
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
	return a.render(c, "reconcile", view{Title: "对账", Nav: "payments", Staff: st, Data: rec})
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
