package claim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/blob"
	"huzhu/service/errs"
	"huzhu/service/payout"
	"huzhu/service/pii"
)

// Options tune a Service. Zero values take the defaults in brackets.
type Options struct {
	MaxDocBytes int64         // bytes of one document as uploaded [10 MB]
	MaxDocs     int           // documents per claim [20]
	MaxOpen     int           // claims of one worker not yet confirmed or withdrawn [5]
	KeepDocs    time.Duration // documents are deleted this long after the claim is settled or withdrawn [180 days]
	SpoolDir    string        // where an upload waits, sealed, before it goes to the store [os.TempDir()]
}

// Estimator is the payout estimate the worker sees before submitting: the same engine and
// explanation as the estimate of typed-in receipts.
type Estimator interface {
	Estimate(ctx context.Context, memberID uint64, receipts []payout.Receipt) (payout.Estimate, error)
}

// Service runs claims. It is safe for concurrent use.
type Service struct {
	db     *gorm.DB
	cipher *pii.Cipher
	store  blob.Store
	est    Estimator
	o      Options
	now    func() time.Time
	log    *slog.Logger
}

// New returns a claim service. store keeps the sealed documents; cipher seals their data keys.
func New(db *gorm.DB, cipher *pii.Cipher, store blob.Store, est Estimator, o Options, now func() time.Time, log *slog.Logger) *Service {
	if o.MaxDocBytes <= 0 {
		o.MaxDocBytes = 10 << 20
	}
	if o.MaxDocs <= 0 {
		o.MaxDocs = 20
	}
	if o.MaxOpen <= 0 {
		o.MaxOpen = 5
	}
	if o.KeepDocs <= 0 {
		o.KeepDocs = 180 * 24 * time.Hour
	}
	if o.SpoolDir == "" {
		o.SpoolDir = os.TempDir()
	}
	if now == nil {
		now = time.Now
	}
	clock := now
	now = func() time.Time { return clock().In(model.Shanghai) }
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, cipher: cipher, store: store, est: est, o: o, now: now, log: log}
}

// Limits returns the document limits, for the API to state.
func (s *Service) Limits() (maxBytes int64, maxDocs int) { return s.o.MaxDocBytes, s.o.MaxDocs }

// Input is what the worker types from the bill.
type Input struct {
	Kind          string // model.ClaimKind code
	ClaimType     string // code or Chinese label
	VisitDate     string
	DischargeDate string // inpatient bills
	Hospital      string
	TotalFen      model.Fen
	SelfPay1Fen   model.Fen
	AboveCapFen   model.Fen
	MajorDisease  bool
	Note          string
}

// Claim is a claim as its worker and staff see it: the stored claim with the status read from the
// money flow, its documents and what is missing.
type Claim struct {
	model.Claim
	Status    model.ClaimStatus // the stored status, or 已核算 / 已到账 from the record's payout line
	Documents []model.ClaimDocument
	Missing   []model.DocKind // required documents not yet attached
	// The payout line of the record, once a settlement run took it.
	AmountFen  model.Fen
	LineReason string
	ArrivedAt  *time.Time
	MemberName string // for staff
}

// MaxNote is the longest note or reason in runes.
const MaxNote = 500

// check validates in and returns the claim fields it sets. Errors are Invalid naming the field.
func (s *Service) check(in Input) (model.Claim, error) {
	var c model.Claim
	c.Kind = model.ClaimKind(strings.TrimSpace(in.Kind))
	if !c.Kind.Valid() {
		return c, errs.Invalid("kind", "请选择申请类别", "异地急诊手工报销填 remote_emergency，超封顶线费用填 above_cap")
	}
	ct, err := model.ParseClaimType(strings.TrimSpace(in.ClaimType))
	if err != nil {
		return c, errs.Invalid("claim_type", "票据类别应为门诊、普通住院或特病住院", "请选择 门诊、普通住院 或 特病住院")
	}
	c.ClaimType = ct
	today := model.DateOf(s.now())
	if c.VisitDate, err = model.ParseDate(strings.TrimSpace(in.VisitDate)); err != nil {
		return c, errs.Invalid("visit_date", "就诊日期无法识别", "日期写成 2026-03-14 这样的格式")
	}
	if c.VisitDate > today {
		return c, errs.Invalid("visit_date", "就诊日期不能晚于今天", "请填写票据上的就诊（入院）日期")
	}
	if x := strings.TrimSpace(in.DischargeDate); x != "" {
		if c.DischargeDate, err = model.ParseDate(x); err != nil {
			return c, errs.Invalid("discharge_date", "出院日期无法识别", "日期写成 2026-03-14 这样的格式")
		}
		if c.DischargeDate < c.VisitDate || c.DischargeDate > today {
			return c, errs.Invalid("discharge_date", "出院日期应在入院日期和今天之间", "请核对住院费用清单上的日期")
		}
	}
	if ct != model.ClaimOutpatient && c.DischargeDate == "" {
		return c, errs.Invalid("discharge_date", "住院请填写出院日期", "出院日期在住院费用清单上")
	}
	c.Hospital = strings.TrimSpace(in.Hospital)
	if c.Hospital == "" || utf8.RuneCountInString(c.Hospital) > 64 {
		return c, errs.Invalid("hospital", "请填写医院名称（不超过64个字）", "照票据上的医院名称填写")
	}
	for _, a := range []struct {
		field string
		v     model.Fen
	}{{"total_fen", in.TotalFen}, {"self_pay1_fen", in.SelfPay1Fen}, {"above_cap_fen", in.AboveCapFen}} {
		switch {
		case a.v < 0:
			return c, errs.Invalid(a.field, "金额不能是负数", "请填写票据上的金额，单位为分")
		case a.v > payout.MaxAmountFen:
			return c, errs.Invalid(a.field, "金额过大，请核对", "单张票据的金额不超过500万元")
		}
	}
	c.TotalFen, c.SelfPay1Fen, c.AboveCapFen, c.MajorDisease = in.TotalFen, in.SelfPay1Fen, in.AboveCapFen, in.MajorDisease
	if c.SelfPay1Fen == 0 && c.AboveCapFen == 0 {
		return c, errs.Invalid("self_pay1_fen", "请填写自付一金额", "自付一金额在收费票据或住院费用清单上")
	}
	if c.TotalFen < c.SelfPay1Fen+c.AboveCapFen {
		return c, errs.Invalid("total_fen", "医疗费总额小于自付一与超封顶线自付一之和", "请核对票据上的总金额")
	}
	if c.Kind == model.ClaimAboveCap && c.AboveCapFen == 0 {
		return c, errs.Invalid("above_cap_fen", "超封顶线费用申请请填写超封顶线自付一金额", "金额在住院费用清单（分割单）上")
	}
	if c.AboveCapFen > 0 && !c.MajorDisease {
		return c, errs.Invalid("major_disease", "超封顶线的费用只对重大疾病支付", "如属重大疾病请勾选；否则超封顶线自付一填 0")
	}
	c.Note = strings.TrimSpace(in.Note)
	if utf8.RuneCountInString(c.Note) > MaxNote {
		return c, errs.Invalidf("note", "请精简说明", "说明最多%d个字", MaxNote)
	}
	return c, nil
}

// Start creates a draft claim of the member. It returns Invalid for bad input, Conflict
// claim.too_many when the member already has Options.MaxOpen claims in progress, and NotFound
// member.not_found for an unknown member.
func (s *Service) Start(ctx context.Context, memberID uint64, in Input) (Claim, error) {
	c, err := s.check(in)
	if err != nil {
		return Claim{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var m model.Member
		if err := lockMember(tx, memberID, &m); err != nil {
			return err
		}
		var open int64
		if err := tx.Model(&model.Claim{}).Where("member_id = ? AND status IN ?", memberID,
			[]model.ClaimStatus{model.ClaimDraft, model.ClaimSubmitted, model.ClaimReturned, model.ClaimUnionApproved}).
			Count(&open).Error; err != nil {
			return err
		}
		if open >= int64(s.o.MaxOpen) {
			return errs.New(errs.KindConflict, "claim.too_many", fmt.Sprintf("您已有%d个申请正在办理", open)).
				WithFix("请等已有的申请办完，或撤回不需要的草稿后再新建")
		}
		c.MemberID, c.UnionID, c.Status = memberID, m.UnionID, model.ClaimDraft
		return tx.Create(&c).Error
	})
	if err != nil {
		return Claim{}, fmt.Errorf("start claim of member %d: %w", memberID, err)
	}
	return s.Mine(ctx, memberID, c.ID)
}

// lockMember reads the member row for update (MySQL; SQLite has one writer at a time), the lock
// that serializes a member's claims against each other and against 办事处's duplicate check.
func lockMember(tx *gorm.DB, memberID uint64, m *model.Member) error {
	q := tx
	if tx.Dialector.Name() == "mysql" {
		q = q.Set("gorm:query_option", "FOR UPDATE")
	}
	err := q.Select("id", "union_id", "name").Take(m, memberID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return errs.NotFound("member.not_found", "没有找到这名职工")
	}
	return err
}

// Update replaces the bill's details of a draft or returned claim. It returns NotFound
// claim.not_found for a claim that is not the member's, Conflict claim.not_editable once the
// claim is with the union, and Invalid for bad input.
func (s *Service) Update(ctx context.Context, memberID, claimID uint64, in Input) (Claim, error) {
	c, err := s.check(in)
	if err != nil {
		return Claim{}, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		old, err := mineForUpdate(tx, memberID, claimID)
		if err != nil {
			return err
		}
		if !old.Status.Editable() {
			return notEditable(old.Status)
		}
		return tx.Model(&model.Claim{}).Where("id = ?", claimID).Updates(map[string]any{
			"kind": c.Kind, "claim_type": c.ClaimType, "visit_date": c.VisitDate, "discharge_date": c.DischargeDate,
			"hospital": c.Hospital, "total_fen": c.TotalFen, "self_pay1_fen": c.SelfPay1Fen, "above_cap_fen": c.AboveCapFen,
			"major_disease": c.MajorDisease, "note": c.Note, "updated_at": s.now()}).Error
	})
	if err != nil {
		return Claim{}, fmt.Errorf("update claim %d: %w", claimID, err)
	}
	return s.Mine(ctx, memberID, claimID)
}

func notEditable(st model.ClaimStatus) error {
	return errs.New(errs.KindConflict, "claim.not_editable", "申请"+st.Label()+"，不能再修改").
		WithFix("只有草稿和被退回补充的申请可以修改；如有变化请联系基层工会")
}

var errNotMine = errs.NotFound("claim.not_found", "没有找到这个申请")

func mineForUpdate(tx *gorm.DB, memberID, claimID uint64) (model.Claim, error) {
	var c model.Claim
	q := tx
	if tx.Dialector.Name() == "mysql" {
		q = q.Set("gorm:query_option", "FOR UPDATE")
	}
	err := q.Where("id = ? AND member_id = ?", claimID, memberID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return c, errNotMine
	}
	return c, err
}

// Estimate is what the plan would pay for the claim's bill, by the same engine and with the same
// explanation as any estimate, before the worker submits. It returns NotFound claim.not_found for
// a claim that is not the member's.
func (s *Service) Estimate(ctx context.Context, memberID, claimID uint64) (payout.Estimate, error) {
	c, err := s.Mine(ctx, memberID, claimID)
	if err != nil {
		return payout.Estimate{}, err
	}
	// The settlement dates a bill by its visit (admission) date; the estimate must agree.
	return s.est.Estimate(ctx, memberID, []payout.Receipt{{ClaimType: string(c.ClaimType), Date: string(c.VisitDate),
		SelfPay1Fen: c.SelfPay1Fen, AboveCapFen: c.AboveCapFen, MajorDisease: c.MajorDisease}})
}

// Submit sends a draft, or a returned claim with what was asked added, to the union. note is the
// worker's answer to a return (optional). It returns Conflict claim.docs_missing naming the
// missing documents, Conflict claim.not_editable when the claim is not a draft or returned, and
// NotFound claim.not_found for a claim that is not the member's.
func (s *Service) Submit(ctx context.Context, memberID, claimID uint64, note string) (Claim, error) {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > MaxNote {
		return Claim{}, errs.Invalidf("note", "请精简说明", "说明最多%d个字", MaxNote)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := mineForUpdate(tx, memberID, claimID)
		if err != nil {
			return err
		}
		if !c.Status.CanTransitionTo(model.ClaimSubmitted) {
			return notEditable(c.Status)
		}
		docs, err := liveDocs(tx, claimID)
		if err != nil {
			return err
		}
		if missing := missingDocs(c.Kind, docs); len(missing) > 0 {
			labels := make([]string, len(missing))
			for i, k := range missing {
				labels[i] = k.Label()
			}
			return errs.New(errs.KindConflict, "claim.docs_missing", "还缺少材料："+strings.Join(labels, "、")).
				WithFix("请拍照或上传 PDF 后再提交")
		}
		if c.Status == model.ClaimReturned && len(docs) == 0 {
			return errs.New(errs.KindConflict, "claim.docs_missing", "请补充退回时要求的材料").WithFix("上传材料后再提交")
		}
		now := s.now()
		up := map[string]any{"status": model.ClaimSubmitted, "submitted_at": now, "updated_at": now}
		if note != "" {
			up["note"] = note
		}
		return tx.Model(&model.Claim{}).Where("id = ?", claimID).Updates(up).Error
	})
	if err != nil {
		return Claim{}, fmt.Errorf("submit claim %d: %w", claimID, err)
	}
	return s.Mine(ctx, memberID, claimID)
}

// Withdraw ends a claim at the worker's wish, at any point before 办事处 confirms it. Its
// documents are deleted Options.KeepDocs later. It returns Conflict claim.not_withdrawable after
// confirmation and NotFound claim.not_found for a claim that is not the member's.
func (s *Service) Withdraw(ctx context.Context, memberID, claimID uint64) (Claim, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := mineForUpdate(tx, memberID, claimID)
		if err != nil {
			return err
		}
		if !c.Status.CanTransitionTo(model.ClaimWithdrawn) {
			return errs.New(errs.KindConflict, "claim.not_withdrawable", "申请"+c.Status.Label()+"，不能撤回").
				WithFix("办事处确认后的申请已进入结算，如有问题请联系基层工会或拨打12351")
		}
		now := s.now()
		return tx.Model(&model.Claim{}).Where("id = ?", claimID).
			Updates(map[string]any{"status": model.ClaimWithdrawn, "withdrawn_at": now, "updated_at": now}).Error
	})
	if err != nil {
		return Claim{}, fmt.Errorf("withdraw claim %d: %w", claimID, err)
	}
	return s.Mine(ctx, memberID, claimID)
}

// Mine returns one claim of the member; NotFound claim.not_found when it is not theirs.
func (s *Service) Mine(ctx context.Context, memberID, claimID uint64) (Claim, error) {
	var c model.Claim
	err := s.db.WithContext(ctx).Where("id = ? AND member_id = ?", claimID, memberID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Claim{}, errNotMine
	}
	if err != nil {
		return Claim{}, fmt.Errorf("claim %d: %w", claimID, err)
	}
	out, err := s.views(ctx, []model.Claim{c}, true)
	if err != nil {
		return Claim{}, err
	}
	return out[0], nil
}

// List returns the member's claims, newest first (at most 100).
func (s *Service) List(ctx context.Context, memberID uint64) ([]Claim, error) {
	var cs []model.Claim
	if err := s.db.WithContext(ctx).Where("member_id = ?", memberID).Order("id DESC").Limit(100).Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("list claims of member %d: %w", memberID, err)
	}
	return s.views(ctx, cs, true)
}

// views adds the documents and the money flow's status to claims.
func (s *Service) views(ctx context.Context, cs []model.Claim, withDocs bool) ([]Claim, error) {
	db := s.db.WithContext(ctx)
	out := make([]Claim, len(cs))
	var ids, records []uint64
	for i, c := range cs {
		out[i] = Claim{Claim: c, Status: c.Status}
		ids = append(ids, c.ID)
		if c.RecordID != 0 {
			records = append(records, c.RecordID)
		}
	}
	if len(cs) == 0 {
		return out, nil
	}
	if withDocs {
		var docs []model.ClaimDocument
		if err := db.Where("claim_id IN ? AND deleted_at IS NULL", ids).Order("id").Find(&docs).Error; err != nil {
			return nil, fmt.Errorf("claim documents: %w", err)
		}
		by := map[uint64][]model.ClaimDocument{}
		for _, d := range docs {
			by[d.ClaimID] = append(by[d.ClaimID], d)
		}
		for i := range out {
			out[i].Documents = by[out[i].ID]
			if out[i].Status.Editable() {
				out[i].Missing = missingDocs(out[i].Kind, out[i].Documents)
			}
		}
	}
	if len(records) > 0 {
		var lines []model.PayoutLine
		if err := db.Where("record_id IN ?", records).Find(&lines).Error; err != nil {
			return nil, fmt.Errorf("claim lines: %w", err)
		}
		by := map[uint64]model.PayoutLine{}
		for _, l := range lines {
			by[l.RecordID] = l
		}
		for i := range out {
			l, ok := by[out[i].RecordID]
			if !ok {
				continue
			}
			out[i].Status, out[i].AmountFen, out[i].LineReason = model.ClaimSettled, l.AmountFen, l.Reason
			if l.Status == model.LineArrived {
				out[i].Status, out[i].ArrivedAt = model.ClaimPaid, l.ArrivedAt
			}
		}
	}
	return out, nil
}

func liveDocs(tx *gorm.DB, claimID uint64) ([]model.ClaimDocument, error) {
	var docs []model.ClaimDocument
	err := tx.Where("claim_id = ? AND deleted_at IS NULL", claimID).Order("id").Find(&docs).Error
	return docs, err
}

// missingDocs returns the documents kind needs that docs lack, in the kind's order.
func missingDocs(kind model.ClaimKind, docs []model.ClaimDocument) []model.DocKind {
	have := map[model.DocKind]bool{}
	for _, d := range docs {
		have[d.Kind] = true
	}
	var out []model.DocKind
	for _, k := range kind.RequiredDocs() {
		if !have[k] {
			out = append(out, k)
		}
	}
	return out
}
