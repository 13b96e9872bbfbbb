package payment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/calendar"
	"huzhu/service/errs"
	"huzhu/service/notify"
	"huzhu/service/pii"
	"huzhu/service/progress"
	"huzhu/service/sheet"
)

// JingCardBank is the bank that pays 京卡 holders (assumed; the seeds do not name the issuer).
const JingCardBank = model.BankBOB

// Service exports transfer files and imports bank results.
type Service struct {
	db     *gorm.DB
	cipher *pii.Cipher
	cal    *calendar.Calendar
	now    func() time.Time
	log    *slog.Logger
}

// New returns a payment service.
func New(db *gorm.DB, cipher *pii.Cipher, cal *calendar.Calendar, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, cipher: cipher, cal: cal, now: now, log: log}
}

// File is one bank's transfer file.
type File struct {
	Bank      model.Bank
	Name      string
	RunID     uint64
	BatchID   uint64
	Transfers int
	TotalFen  model.Fen
	CSV       []byte // UTF-8 with BOM, so that Excel opens it right
}

// Export is what one export wrote.
type Export struct {
	Files          []File
	WaitingMembers int    // members with approved lines but no account yet
	Held           []Held // members not paid because their file row could not be written exactly
}

// Held is a member whose transfer Export did not write: the bank needs the name (户名) and the
// account exactly as they are, and this member's would open in Excel or WPS as a formula, so
// it could neither be written as it is nor neutralised. The member's lines stay approved and
// the next export after the roster is corrected pays them.
type Held struct {
	MemberID uint64
	Message  string // plain Chinese: which member, what is wrong, how to fix it
}

// fileHeader is the header row of every bank file.
var fileHeader = []string{"转账编号", "收款银行", "账户类型", "户名", "账号", "金额(元)", "摘要"}

// unsafeCell names the first value of m's file row that the bank needs exactly but a
// spreadsheet would read as a formula (sheet.FormulaLike), or returns "" when there is none.
// ID numbers never appear in messages: the member is named by id only.
func unsafeCell(name string, a account) string {
	switch {
	case sheet.FormulaLike(name):
		return "姓名"
	case sheet.FormulaLike(a.number):
		return "收款账号"
	}
	return ""
}

// heldMessage says why member id's transfer was not written and how to fix it.
func heldMessage(id uint64, what string) string {
	return fmt.Sprintf("会员 %d 的%s以 = + - @ 或空白、制表符等开头，写进银行文件后在 Excel/WPS 中打开会被当作公式执行；"+
		"银行要求原样填写，本次没有为这位会员生成转账。请在花名册中改正这位会员的%s后重新导入，再导出银行文件", id, what, what)
}

// Export creates transfers for every approved or re-issued line of the run that has none and
// returns the files to send to the banks. Exporting again only picks up lines that became
// payable since (re-issues, newly registered accounts, corrected names); with nothing to pay it
// returns no files. A member whose name or account would open in a spreadsheet as a formula
// is not written and is listed in Export.Held instead (see Held).
// It returns Forbidden unless actor may DownloadFiles (the files hold full account numbers),
// NotFound for an unknown run and Conflict for a run that is not approved. Progress (members
// done of members to pay) goes to progress.Report(ctx).
func (s *Service) Export(ctx context.Context, runID uint64, actor model.Actor) (Export, error) {
	if err := audit.Need(actor, model.ActDownloadFiles); err != nil {
		return Export{}, err
	}
	var out Export
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var run model.SettlementRun
		if err := tx.Take(&run, runID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.NotFound("payment.run_not_found", "没有这个核算批次")
		} else if err != nil {
			return err
		}
		if run.Status != model.RunApproved && run.Status != model.RunExported {
			return errs.New(errs.KindConflict, "payment.run_not_approved", "核算批次审核后才能导出转账文件")
		}
		// Claim the lines first: the conditional update makes two concurrent exports unable to
		// put one line in two transfers.
		var lines []model.PayoutLine
		if err := tx.Where("run_id = ? AND status IN ? AND amount_fen > 0", run.ID,
			[]model.LineStatus{model.LineApproved, model.LineReissued}).Order("member_id, id").Find(&lines).Error; err != nil {
			return err
		}
		if len(lines) == 0 {
			return closeIfDone(tx, run) // nothing payable at all: the run is done
		}
		ids := make([]uint64, len(lines))
		for i, l := range lines {
			ids[i] = l.MemberID
		}
		members, err := membersOf(tx, ids)
		if err != nil {
			return err
		}
		label := periodLabel(s.cal, run)
		now := s.now()
		files := map[model.Bank]*fileBuilder{}
		var order []model.Bank
		groups := byMember(lines)
		for i, group := range groups {
			if i%200 == 0 {
				progress.Report(ctx, int64(i), int64(len(groups)))
			}
			m := members[group[0].MemberID]
			acct, ok, err := s.account(m)
			if err != nil {
				return fmt.Errorf("member %d: %w", m.ID, err)
			}
			if !ok {
				out.WaitingMembers++
				continue
			}
			if what := unsafeCell(m.Name, acct); what != "" {
				out.Held = append(out.Held, Held{MemberID: m.ID, Message: heldMessage(m.ID, what)})
				continue
			}
			fb := files[acct.bank]
			if fb == nil {
				fb, err = newFileBuilder(tx, run, acct.bank, actor.Username, now)
				if err != nil {
					return err
				}
				files[acct.bank] = fb
				order = append(order, acct.bank)
			}
			ids := make([]uint64, len(group))
			var total model.Fen
			var reissueOf uint64
			for i, l := range group {
				ids[i] = l.ID
				total += l.AmountFen
				if l.Status == model.LineReissued {
					reissueOf = l.TransferID
				}
			}
			t := model.Transfer{Ref: fmt.Sprintf("HZ%d-%d-%d", run.ID, fb.batch.ID, m.ID), BatchID: fb.batch.ID, RunID: run.ID,
				MemberID: m.ID, Bank: acct.bank, AccountKind: acct.kind, AccountLast4: pii.Last4(acct.number), AmountFen: total,
				Status: model.LineTransfering, ReissueOf: reissueOf}
			if err := tx.Create(&t).Error; err != nil {
				return err
			}
			res := tx.Model(&model.PayoutLine{}).Where("id IN ? AND status IN ?", ids, []model.LineStatus{model.LineApproved, model.LineReissued}).
				Updates(map[string]any{"status": model.LineTransfering, "transfer_id": t.ID})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != int64(len(ids)) {
				return errs.New(errs.KindConflict, "payment.concurrent_export", "这些互助金刚被另一次导出处理，请刷新后再试")
			}
			fb.add(t, m.Name, acct, label)
		}
		progress.Report(ctx, int64(len(groups)), int64(len(groups)))
		for _, b := range order {
			f, err := files[b].finish(tx)
			if err != nil {
				return err
			}
			out.Files = append(out.Files, f)
		}
		if len(out.Files) > 0 && run.Status == model.RunApproved {
			if err := tx.Model(&model.SettlementRun{}).Where("id = ?", run.ID).Update("status", model.RunExported).Error; err != nil {
				return err
			}
		}
		detail := map[string]any{"files": len(out.Files), "waiting_members": out.WaitingMembers}
		if len(out.Held) > 0 {
			held := make([]uint64, len(out.Held))
			for i, h := range out.Held {
				held[i] = h.MemberID
			}
			detail["held_members"] = held
		}
		for _, f := range out.Files {
			detail[string(f.Bank)] = map[string]any{"transfers": f.Transfers, "total_fen": f.TotalFen}
		}
		e := audit.By(actor)
		e.Action, e.Target, e.Detail = "payment.export", fmt.Sprintf("run:%d", run.ID), detail
		return audit.Write(ctx, tx, now, e)
	})
	if err != nil {
		return Export{}, fmt.Errorf("export run %d: %w", runID, err)
	}
	return out, nil
}

// account is where a member is paid.
type account struct {
	bank   model.Bank
	kind   string // jingka or bank
	number string
}

func (s *Service) account(m model.Member) (account, bool, error) {
	if len(m.JingCardEnc) > 0 {
		n, err := s.cipher.Decrypt(m.JingCardEnc)
		return account{JingCardBank, "jingka", n}, err == nil, err
	}
	if len(m.BankAccountEnc) > 0 && slices.Contains(model.Banks, m.BankCode) {
		n, err := s.cipher.Decrypt(m.BankAccountEnc)
		return account{m.BankCode, "bank", n}, err == nil, err
	}
	return account{}, false, nil
}

// fileBuilder writes one bank's file and keeps its batch row's totals.
type fileBuilder struct {
	batch *model.PaymentBatch
	buf   bytes.Buffer
	w     *sheet.Writer
}

func newFileBuilder(tx *gorm.DB, run model.SettlementRun, bank model.Bank, actor string, now time.Time) (*fileBuilder, error) {
	b := &model.PaymentBatch{RunID: run.ID, Bank: bank, CreatedBy: actor,
		FileName: fmt.Sprintf("huzhu-%s-%s-%s-%s.csv", run.Period, run.Class, bank, now.In(model.Shanghai).Format("20060102T150405"))}
	if err := tx.Create(b).Error; err != nil {
		return nil, err
	}
	return writerFor(b), nil
}

// writerFor starts the file of batch b; its counts grow as transfers are added.
func writerFor(b *model.PaymentBatch) *fileBuilder {
	fb := &fileBuilder{batch: b}
	fb.w = sheet.NewWriter(&fb.buf)
	_ = fb.w.Write(sheet.Texts(fileHeader...)...)
	return fb
}

// add writes t's row. The caller has checked unsafeCell: name and account go in unchanged.
func (fb *fileBuilder) add(t model.Transfer, name string, a account, label string) {
	kind := "京卡"
	if a.kind == "bank" {
		kind = "银行卡"
	}
	_ = fb.w.Write(sheet.Text(t.Ref), sheet.Text(a.bank.Label()), sheet.Text(kind), sheet.Text(name), sheet.Text(a.number),
		sheet.Number(t.AmountFen.Yuan()), sheet.Text("在职职工医疗互助保障计划互助金 "+label))
	fb.batch.Transfers++
	fb.batch.TotalFen += t.AmountFen
}

func (fb *fileBuilder) finish(tx *gorm.DB) (File, error) {
	f, err := fb.file()
	if err != nil {
		return File{}, err
	}
	if err := tx.Model(fb.batch).Updates(map[string]any{"transfers": fb.batch.Transfers, "total_fen": fb.batch.TotalFen}).Error; err != nil {
		return File{}, err
	}
	return f, nil
}

func (fb *fileBuilder) file() (File, error) {
	if err := fb.w.Error(); err != nil {
		return File{}, err
	}
	return File{Bank: fb.batch.Bank, Name: fb.batch.FileName, RunID: fb.batch.RunID, BatchID: fb.batch.ID, Transfers: int(fb.batch.Transfers),
		TotalFen: fb.batch.TotalFen, CSV: fb.buf.Bytes()}, nil
}

// Batches lists the transfer files exported for run, oldest first.
func (s *Service) Batches(ctx context.Context, runID uint64) ([]model.PaymentBatch, error) {
	var bs []model.PaymentBatch
	if err := s.db.WithContext(ctx).Where("run_id = ?", runID).Order("id").Find(&bs).Error; err != nil {
		return nil, fmt.Errorf("batches of run %d: %w", runID, err)
	}
	return bs, nil
}

// Rebuild writes the file of an exported batch again, byte for byte as Export wrote it (a batch
// exported before sheet.Writer comes back with every field quoted: the same cells), for a
// file lost before it reached the bank (the console keeps the export an hour; a crash may lose
// it sooner). Every transfer must still be on its way: once the bank answered for one, the file
// was sent, and sending it again could pay twice (Conflict payment.batch_answered). Each
// member's account must still be the one the transfer recorded (bank, kind and last 4 digits),
// else Conflict payment.account_changed names the transfers to mark failed and re-issue. A
// member whose name or account would now open in a spreadsheet as a formula (see Held) makes
// it Conflict payment.name_unsafe, naming the members to correct in the roster.
// NotFound payment.batch_not_found for an unknown batch; Forbidden unless actor may
// DownloadFiles. Audited as payment.rebuild.
func (s *Service) Rebuild(ctx context.Context, batchID uint64, actor model.Actor) (File, error) {
	if err := audit.Need(actor, model.ActDownloadFiles); err != nil {
		return File{}, err
	}
	var out File
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var batch model.PaymentBatch
		if err := tx.Take(&batch, batchID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.NotFound("payment.batch_not_found", "没有这个转账批次")
		} else if err != nil {
			return err
		}
		var run model.SettlementRun
		if err := tx.Take(&run, batch.RunID).Error; err != nil {
			return err
		}
		var ts []model.Transfer
		if err := tx.Where("batch_id = ?", batch.ID).Order("id").Find(&ts).Error; err != nil {
			return err
		}
		ids := make([]uint64, len(ts))
		for i, t := range ts {
			if t.Status != model.LineTransfering {
				return errs.New(errs.KindConflict, "payment.batch_answered", "这个批次已有银行回单，不能重新生成，以免重复转账").
					WithFix("请按银行回单处理；转账失败的可在核实账户后重新发放")
			}
			ids[i] = t.MemberID
		}
		members, err := membersOf(tx, ids)
		if err != nil {
			return err
		}
		label := periodLabel(s.cal, run)
		fb := writerFor(&model.PaymentBatch{ID: batch.ID, RunID: batch.RunID, Bank: batch.Bank, FileName: batch.FileName})
		var changed, unsafe []string
		for _, t := range ts {
			m := members[t.MemberID]
			acct, ok, err := s.account(m)
			if err != nil {
				return fmt.Errorf("member %d: %w", m.ID, err)
			}
			if !ok || acct.bank != t.Bank || acct.kind != t.AccountKind || pii.Last4(acct.number) != t.AccountLast4 {
				changed = append(changed, t.Ref)
				continue
			}
			if what := unsafeCell(m.Name, acct); what != "" {
				unsafe = append(unsafe, fmt.Sprintf("会员 %d 的%s（转账编号 %s）", m.ID, what, t.Ref))
				continue
			}
			fb.add(t, m.Name, acct, label)
		}
		if len(unsafe) > 0 {
			return errs.New(errs.KindConflict, "payment.name_unsafe",
				fmt.Sprintf("%d 笔转账的户名或账号以 = + - @ 或空白、制表符等开头，在 Excel/WPS 中打开会被当作公式执行，不能写进银行文件：%s",
					len(unsafe), strings.Join(unsafe, "、"))).
				WithFix("请在花名册中改正这些会员的信息后重新导入；在银行回单中把这些转账标为失败，再重新发放")
		}
		if len(changed) > 0 {
			return errs.New(errs.KindConflict, "payment.account_changed",
				fmt.Sprintf("%d 笔转账的收款账户在导出后变了，不能按原样重建（转账编号：%s）", len(changed), strings.Join(changed, "、"))).
				WithFix("请在银行回单中把这些转账标为失败，再重新发放")
		}
		if fb.batch.Transfers != batch.Transfers || fb.batch.TotalFen != batch.TotalFen {
			return fmt.Errorf("batch %d: rebuilt %d transfers, %d fen; the batch recorded %d, %d", batch.ID,
				fb.batch.Transfers, fb.batch.TotalFen, batch.Transfers, batch.TotalFen)
		}
		f, err := fb.file()
		if err != nil {
			return err
		}
		out = f
		e := audit.By(actor)
		e.Action, e.Target = "payment.rebuild", fmt.Sprintf("batch:%d", batch.ID)
		e.Detail = map[string]any{"run_id": batch.RunID, "bank": string(batch.Bank), "transfers": batch.Transfers, "total_fen": batch.TotalFen}
		return audit.Write(ctx, tx, s.now(), e)
	})
	if err != nil {
		return File{}, fmt.Errorf("rebuild batch %d: %w", batchID, err)
	}
	return out, nil
}

// membersOf reads the members of ids (repeats allowed), by id.
func membersOf(tx *gorm.DB, ids []uint64) (map[uint64]model.Member, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make(map[uint64]model.Member, len(ids))
	for chunk := range slices.Chunk(ids, 1000) {
		var ms []model.Member
		if err := tx.Where("id IN ?", chunk).Find(&ms).Error; err != nil {
			return nil, err
		}
		for _, m := range ms {
			out[m.ID] = m
		}
	}
	return out, nil
}

// byMember groups lines sorted by member.
func byMember(lines []model.PayoutLine) [][]model.PayoutLine {
	var out [][]model.PayoutLine
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && lines[j].MemberID == lines[i].MemberID {
			j++
		}
		out = append(out, lines[i:j])
		i = j
	}
	return out
}

func periodLabel(cal *calendar.Calendar, run model.SettlementRun) string {
	p, err := cal.ParsePeriod(run.Period)
	if err != nil {
		return run.Period
	}
	return p.Label() + run.Class.Label()
}

// Reissue puts the lines of a failed transfer back in line for the next Export, after staff
// fixed the member's account. It returns Forbidden unless actor may Pay, NotFound for an unknown
// transfer and Conflict when the transfer has not failed or was already re-issued. The audit
// row carries the member's union as well as the actor's role and address.
func (s *Service) Reissue(ctx context.Context, transferID uint64, actor model.Actor) error {
	if err := audit.Need(actor, model.ActPay); err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var t model.Transfer
		if err := tx.Take(&t, transferID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.NotFound("payment.transfer_not_found", "没有这笔转账")
		} else if err != nil {
			return err
		}
		if t.Status != model.LineFailed {
			return errs.New(errs.KindConflict, "payment.not_failed", "只有转账失败的款项可以重新发放")
		}
		res := tx.Model(&model.PayoutLine{}).Where("transfer_id = ? AND status = ?", t.ID, model.LineFailed).Update("status", model.LineReissued)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return errs.New(errs.KindConflict, "payment.already_reissued", "这笔转账已经重新发放过了")
		}
		var m model.Member
		if err := tx.Select("id", "union_id").Take(&m, t.MemberID).Error; err != nil {
			return err
		}
		e := audit.By(actor)
		e.Action, e.Target, e.UnionID = "payment.reissue", fmt.Sprintf("transfer:%d", t.ID), m.UnionID
		e.Detail = map[string]any{"run_id": t.RunID, "member_id": t.MemberID, "amount_fen": t.AmountFen, "lines": res.RowsAffected}
		return audit.Write(ctx, tx, s.now(), e)
	})
}

// notice queues the arrival or failure notice of a transfer inside tx.
func notice(ctx context.Context, tx *gorm.DB, t model.Transfer, run model.SettlementRun, kind model.NoticeKind, at time.Time) error {
	_, err := notify.Enqueue(ctx, tx, notify.Notice{Subject: notify.TransferSubject(t.ID), MemberID: t.MemberID, Kind: kind, At: at,
		Payload: notify.Payload{AmountFen: t.AmountFen, Period: run.Period, ClaimTypes: run.Class.Label(), AccountKind: t.AccountKind,
			AccountLast4: t.AccountLast4, TransferID: t.ID, RunID: run.ID}})
	return err
}
