package payment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/progress"
	"huzhu/service/sheet"
)

// Problem is one bad row of a result file: its 1-based row number (the header is row 1), the
// column at fault, and what is wrong in plain Chinese.
type Problem struct {
	Row     int
	Column  string
	Message string
}

// ResultReport says what an imported result file did.
type ResultReport struct {
	BatchID   uint64 // the import_batches row
	Rows      int
	Arrived   int
	Failed    int
	Unchanged int // rows already applied by an earlier import of the same result
	Problems  []Problem
}

// resultColumns returns the result file's columns, as banks and staff write them.
func resultColumns() map[string]string {
	return sheet.Aliases(map[string][]string{
		"ref":    {"转账编号", "编号"},
		"result": {"结果", "状态"},
		"reason": {"原因", "失败原因"},
		"at":     {"到账时间", "时间"},
		"amount": {"金额(元)", "金额"},
	})
}

// maxResultRows bounds one file; a bank's file for one run is far smaller.
const maxResultRows = 2_000_000

// ImportResult applies a bank's result file. The file is CSV in UTF-8 (with or without BOM) or
// GBK, or XLSX, with a header naming at least 转账编号 and 结果 (成功/失败); 原因, 到账时间 and 金额(元)
// are optional. Each good row is applied in its own transaction with its notice; each bad row
// is reported and changes nothing. It returns an Invalid error only when the file as a whole
// cannot be read (no header, missing columns).
//
// Progress goes to progress.Report(ctx): bytes read of the file's size when r tells its size
// (Size() int64) and rows stream from it (CSV), else rows done with the total unknown. It
// returns Forbidden unless actor may Pay.
func (s *Service) ImportResult(ctx context.Context, name string, r io.Reader, actor model.Actor) (ResultReport, error) {
	var rep ResultReport
	if err := audit.Need(actor, model.ActPay); err != nil {
		return rep, err
	}
	h := sha256.New()
	cr := progress.NewReader(r)
	rd, err := sheet.Open(io.TeeReader(cr, h))
	if e, ok := errs.As(err); ok {
		return rep, e // a broken limit: says which
	}
	if err != nil {
		return rep, errs.Invalid("file", "结果文件是空的或无法读取", "请上传银行返回的 CSV 或 XLSX 文件，第一行是列名：转账编号,结果,原因,到账时间")
	}
	defer rd.Close()
	col := sheet.Columns(rd.Header(), resultColumns())
	for _, need := range []string{"ref", "result"} {
		if _, ok := col[need]; !ok {
			return rep, errs.Invalid("file", "结果文件缺少“转账编号”或“结果”列", "第一行应为列名，至少包含：转账编号,结果")
		}
	}
	now := s.now()
	batch := model.ImportBatch{Kind: model.ImportBankResult, FileName: model.Fit(name, 255), FileSHA256: "pending",
		Status: model.ImportRunning, CreatedBy: actor.Username}
	if err := s.db.WithContext(ctx).Create(&batch).Error; err != nil {
		return rep, fmt.Errorf("import result %s: %w", name, err)
	}
	rep.BatchID = batch.ID
	byBytes := cr.ByBytes()
	report := func(final bool) {
		switch {
		case byBytes && final:
			progress.Report(ctx, cr.Size(), cr.Size())
		case byBytes:
			cr.Report(ctx)
		case final:
			progress.Report(ctx, int64(rep.Rows), int64(rep.Rows))
		default:
			progress.Report(ctx, int64(rep.Rows), 0)
		}
	}
	for read := 1; ; read++ {
		row, rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if read%100 == 0 {
			report(false)
		}
		if e, ok := errs.As(err); ok { // a broken limit of the whole file: the rest cannot be read
			rep.Problems = append(rep.Problems, Problem{row, "", e.Message + "。" + e.Fix})
			break
		}
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{row, "", err.Error()})
			continue
		}
		if rep.Rows >= maxResultRows {
			rep.Problems = append(rep.Problems, Problem{row, "", fmt.Sprintf("文件超过 %d 行，其余行未处理，请分成几个文件", maxResultRows)})
			break
		}
		rep.Rows++
		res, p := parseResultRow(rec, col, now)
		if p != nil {
			p.Row = row
			rep.Problems = append(rep.Problems, *p)
			continue
		}
		outcome, p, err := s.applyResult(ctx, res)
		if err != nil {
			return rep, fmt.Errorf("import result %s row %d: %w", name, row, err)
		}
		switch {
		case p != nil:
			p.Row = row
			rep.Problems = append(rep.Problems, *p)
		case outcome == model.LineArrived:
			rep.Arrived++
		case outcome == model.LineFailed:
			rep.Failed++
		default:
			rep.Unchanged++
		}
	}
	report(true)
	finished := s.now()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&batch).Updates(map[string]any{"file_sha256": hex.EncodeToString(h.Sum(nil)), "status": model.ImportDone,
			"rows_total": rep.Rows, "rows_ok": rep.Arrived + rep.Failed, "rows_same": rep.Unchanged, "rows_bad": len(rep.Problems),
			"report": problemsCSV(rep.Problems), "finished_at": finished}).Error; err != nil {
			return err
		}
		e := audit.By(actor)
		e.Action, e.Target = "payment.import_result", fmt.Sprintf("import:%d", batch.ID)
		e.Detail = map[string]any{"file": name, "rows": rep.Rows, "arrived": rep.Arrived, "failed": rep.Failed,
			"unchanged": rep.Unchanged, "bad": len(rep.Problems)}
		return audit.Write(ctx, tx, finished, e)
	})
	if err != nil {
		return rep, fmt.Errorf("import result %s: %w", name, err)
	}
	return rep, nil
}

type resultRow struct {
	ref     string
	arrived bool
	reason  string
	at      time.Time
	amount  *model.Fen
}

func parseResultRow(rec []string, col map[string]int, now time.Time) (resultRow, *Problem) {
	get := func(key string) string { return sheet.Cell(rec, col, key) }
	r := resultRow{ref: get("ref"), reason: get("reason"), at: now}
	if r.ref == "" {
		return r, &Problem{Column: "转账编号", Message: "转账编号是空的"}
	}
	switch get("result") {
	case "成功", "已到账", "success", "SUCCESS", "S":
		r.arrived = true
	case "失败", "fail", "FAIL", "failed", "F":
		if r.reason == "" {
			r.reason = "银行未说明原因"
		}
	default:
		return r, &Problem{Column: "结果", Message: fmt.Sprintf("结果“%s”无法识别，应为“成功”或“失败”", get("result"))}
	}
	if v := get("at"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			return r, &Problem{Column: "到账时间", Message: fmt.Sprintf("到账时间“%s”无法识别，应写成 2025-04-28 10:30:00", v)}
		}
		if t.After(now) {
			return r, &Problem{Column: "到账时间", Message: "到账时间晚于现在，请核对"}
		}
		r.at = t
	}
	if v := get("amount"); v != "" {
		f, err := model.ParseYuan(v)
		if err != nil {
			return r, &Problem{Column: "金额(元)", Message: fmt.Sprintf("金额“%s”无法识别，应写成 1234.56", v)}
		}
		r.amount = &f
	}
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006/1/2 15:04:05", "2006/1/2 15:04", "20060102150405"} {
		if t, err := time.ParseInLocation(layout, s, model.Shanghai); err == nil {
			return t, nil
		}
	}
	d, err := model.ParseDate(s)
	if err != nil {
		return time.Time{}, err
	}
	return d.Time().Add(12 * time.Hour), nil // a bare date: noon, so the Shanghai day is right everywhere
}

// applyResult applies one row. It returns the transfer's new status, or "" when the row was
// already applied, or a Problem when the row contradicts what we know.
func (s *Service) applyResult(ctx context.Context, r resultRow) (model.LineStatus, *Problem, error) {
	var (
		outcome model.LineStatus
		problem *Problem
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t model.Transfer
		if err := tx.Where("ref = ?", r.ref).Take(&t).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			problem = &Problem{Column: "转账编号", Message: fmt.Sprintf("没有转账编号为“%s”的转账，请核对是否是本系统导出的文件", r.ref)}
			return nil
		} else if err != nil {
			return err
		}
		if r.amount != nil && *r.amount != t.AmountFen {
			problem = &Problem{Column: "金额(元)", Message: fmt.Sprintf("金额 %s 元与导出的 %s 元不一致，未处理", r.amount.Yuan(), t.AmountFen.Yuan())}
			return nil
		}
		want := model.LineFailed
		if r.arrived {
			want = model.LineArrived
		}
		switch {
		case t.Status == want:
			return nil // applied before
		case t.Status != model.LineTransfering:
			problem = &Problem{Column: "结果", Message: fmt.Sprintf("这笔转账已是“%s”，不能改为“%s”；如银行确有更正，请联系办事处处理", t.Status.Label(), want.Label())}
			return nil
		}
		upd := map[string]any{"status": want}
		if r.arrived {
			upd["arrived_at"] = r.at
		} else {
			upd["fail_reason"] = model.Fit(r.reason, 255)
		}
		res := tx.Model(&model.Transfer{}).Where("id = ? AND status = ?", t.ID, model.LineTransfering).Updates(upd)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return nil // a concurrent import of the same row won
		}
		if err := tx.Model(&model.PayoutLine{}).Where("transfer_id = ? AND status = ?", t.ID, model.LineTransfering).Updates(upd).Error; err != nil {
			return err
		}
		var run model.SettlementRun
		if err := tx.Take(&run, t.RunID).Error; err != nil {
			return err
		}
		kind := model.NoticeFailedTx
		if r.arrived {
			kind = model.NoticeArrived
		}
		if err := notice(ctx, tx, t, run, kind, s.now()); err != nil {
			return err
		}
		outcome = want
		return closeIfDone(tx, run)
	})
	return outcome, problem, err
}

// closeIfDone closes an approved or exported run once every payable line has arrived.
func closeIfDone(tx *gorm.DB, run model.SettlementRun) error {
	if run.Status != model.RunExported && run.Status != model.RunApproved {
		return nil
	}
	var open int64
	if err := tx.Model(&model.PayoutLine{}).Where("run_id = ? AND eligible AND amount_fen > 0 AND status <> ?", run.ID, model.LineArrived).
		Count(&open).Error; err != nil {
		return err
	}
	if open > 0 {
		return nil
	}
	return tx.Model(&model.SettlementRun{}).Where("id = ? AND status = ?", run.ID, run.Status).Update("status", model.RunClosed).Error
}

// problemsCSV is the report of a result file's bad rows, written by sheet.Writer so that it is
// safe to open in Excel or WPS (the rows quote what the bank's file held).
func problemsCSV(ps []Problem) string {
	if len(ps) == 0 {
		return ""
	}
	var b bytes.Buffer
	w := sheet.NewWriter(&b)
	_ = w.Write(sheet.Texts("行号", "列", "问题")...)
	for _, p := range ps {
		_ = w.Write(sheet.Int(int64(p.Row)), sheet.Text(p.Column), sheet.Text(p.Message))
	}
	return b.String()
}
