package claim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/notify"
)

// role is the role a decides with: the process itself and a break-glass actor count as 市总.
func role(a model.Actor) model.Role {
	if a.Via == model.ViaSystem || a.Via == model.ViaBreakGlass {
		return model.RoleAdmin
	}
	if a.Username == "" {
		return ""
	}
	return a.Role
}

// sees reports whether a may see claims of union: its own union's staff, 办事处, 市总 and
// auditors (who may not act).
func sees(a model.Actor, union uint64) bool {
	switch role(a) {
	case model.RoleAdmin, model.RoleOperator, model.RoleAuditor:
		return true
	case model.RoleUnion:
		return a.UnionID != 0 && a.UnionID == union
	}
	return false
}

// seesDocuments reports whether a may open the documents of a claim of union: never another
// union's staff, and not auditors (they audit actions, not medical papers).
func seesDocuments(a model.Actor, union uint64) bool {
	return role(a) != model.RoleAuditor && sees(a, union)
}

// ReturnReason is a reason staff may pick when sending a claim back.
type ReturnReason struct{ Code, Label string }

// ReturnReasons are the reasons staff pick from; "other" needs their own words.
var ReturnReasons = []ReturnReason{
	{"docs_missing", "材料不全，请补充"},
	{"docs_unclear", "材料照片不清晰，请重新拍照"},
	{"amount_mismatch", "填写的金额与票据不一致"},
	{"date_mismatch", "填写的日期与票据不一致"},
	{"no_emergency_stamp", "异地急诊材料缺少急诊章"},
	{"in_feed", "这张票据已在医保数据中，无需补充申请"},
	{"other", "其他（见说明）"},
}

func reasonLabel(code string) (string, bool) {
	for _, r := range ReturnReasons {
		if r.Code == code {
			return r.Label, true
		}
	}
	return "", false
}

// QueueFilter selects claims for review.
type QueueFilter struct {
	Status model.ClaimStatus // empty: every claim waiting for someone (submitted, union approved)
	Limit  int               // 1–200 [100]
}

// Queue returns the claims st may see, oldest waiting first: union staff see their union's only.
// It returns Forbidden for roles without a console view of claims.
func (s *Service) Queue(ctx context.Context, st model.Actor, f QueueFilter) ([]Claim, error) {
	if !role(st).Valid() {
		return nil, errs.New(errs.KindForbidden, "claim.forbidden", "无权查看补充申请")
	}
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 100
	}
	q := s.db.WithContext(ctx).Model(&model.Claim{})
	if role(st) == model.RoleUnion {
		q = q.Where("union_id = ?", st.UnionID)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	} else {
		q = q.Where("status IN ?", []model.ClaimStatus{model.ClaimSubmitted, model.ClaimUnionApproved})
	}
	var cs []model.Claim
	if err := q.Order("updated_at, id").Limit(f.Limit).Find(&cs).Error; err != nil {
		return nil, fmt.Errorf("claim queue: %w", err)
	}
	out, err := s.views(ctx, cs, false)
	if err != nil {
		return nil, err
	}
	return out, s.names(ctx, out)
}

func (s *Service) names(ctx context.Context, cs []Claim) error {
	ids := make([]uint64, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.MemberID)
	}
	if len(ids) == 0 {
		return nil
	}
	var ms []model.Member
	if err := s.db.WithContext(ctx).Select("id", "name").Where("id IN ?", ids).Find(&ms).Error; err != nil {
		return fmt.Errorf("claim members: %w", err)
	}
	by := map[uint64]string{}
	for _, m := range ms {
		by[m.ID] = m.Name
	}
	for i := range cs {
		cs[i].MemberName = by[cs[i].MemberID]
	}
	return nil
}

// Review returns one claim with its documents for st. A claim of another union is NotFound
// claim.not_found, as if it did not exist.
func (s *Service) Review(ctx context.Context, st model.Actor, claimID uint64) (Claim, error) {
	var c model.Claim
	err := s.db.WithContext(ctx).Take(&c, claimID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && !sees(st, c.UnionID)) {
		return Claim{}, errNotMine
	}
	if err != nil {
		return Claim{}, fmt.Errorf("claim %d: %w", claimID, err)
	}
	out, err := s.views(ctx, []model.Claim{c}, true)
	if err != nil {
		return Claim{}, err
	}
	return out[0], s.names(ctx, out)
}

// StaffDocument opens a document for st: staff of the claim's union, 办事处 and 市总 only; any
// other staff get NotFound claim.doc_not_found, as for a document that does not exist. Every
// opening is audited.
func (s *Service) StaffDocument(ctx context.Context, st model.Actor, claimID, docID uint64) (*DocumentReader, error) {
	db := s.db.WithContext(ctx)
	var c model.Claim
	var doc model.ClaimDocument
	notFound := errs.NotFound("claim.doc_not_found", "没有找到这份材料")
	if err := db.Take(&c, claimID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("claim %d: %w", claimID, err)
	}
	if !seesDocuments(st, c.UnionID) {
		return nil, notFound
	}
	if err := db.Where("id = ? AND claim_id = ?", docID, claimID).Take(&doc).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("document %d: %w", docID, err)
	}
	e := audit.By(st)
	e.Action, e.Target, e.Detail, e.UnionID = "claim.document_view", fmt.Sprintf("claim:%d", claimID), map[string]any{"document": docID, "kind": doc.Kind}, c.UnionID
	if err := audit.Write(ctx, db, s.now(), e); err != nil {
		return nil, err
	}
	return s.openDoc(ctx, doc)
}

// act runs one staff decision on a claim in a transaction: it loads and locks the claim, checks
// that st sees it (NotFound otherwise), lets decide check and change it, and writes the audit row.
func (s *Service) act(ctx context.Context, st model.Actor, claimID uint64, action string, decide func(tx *gorm.DB, c *model.Claim) (map[string]any, error)) (Claim, error) {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var c model.Claim
		q := tx
		if tx.Dialector.Name() == "mysql" {
			q = q.Set("gorm:query_option", "FOR UPDATE")
		}
		if err := q.Take(&c, claimID).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errNotMine
		} else if err != nil {
			return err
		}
		if !sees(st, c.UnionID) {
			return errNotMine
		}
		detail, err := decide(tx, &c)
		if err != nil {
			return err
		}
		if err := tx.Save(&c).Error; err != nil {
			return err
		}
		e := audit.By(st)
		e.Action, e.Target, e.Detail, e.UnionID = action, fmt.Sprintf("claim:%d", claimID), detail, c.UnionID
		return audit.Write(ctx, tx, s.now(), e)
	})
	if err != nil {
		return Claim{}, fmt.Errorf("%s %d: %w", action, claimID, err)
	}
	return s.Review(ctx, st, claimID)
}

func wrongStatus(c *model.Claim, what string) error {
	return errs.New(errs.KindConflict, "claim.wrong_status", fmt.Sprintf("申请%s，不能%s", c.Status.Label(), what)).
		WithFix("请刷新页面查看申请的最新状态")
}

// Approve records the union's approval of a submitted claim: staff of the claim's union, or
// 市总. It returns Forbidden claim.forbidden for other roles, Conflict claim.wrong_status unless
// the claim is submitted, and NotFound for a claim st does not see.
func (s *Service) Approve(ctx context.Context, st model.Actor, claimID uint64) (Claim, error) {
	return s.act(ctx, st, claimID, "claim.union_approve", func(_ *gorm.DB, c *model.Claim) (map[string]any, error) {
		if role(st) != model.RoleUnion && role(st) != model.RoleAdmin {
			return nil, errs.New(errs.KindForbidden, "claim.forbidden", "只有基层工会可以审核补充申请")
		}
		if !c.Status.CanTransitionTo(model.ClaimUnionApproved) || c.Status != model.ClaimSubmitted {
			return nil, wrongStatus(c, "审核通过")
		}
		now := s.now()
		c.Status, c.UnionApprovedBy, c.UnionApprovedAt = model.ClaimUnionApproved, st.Username, &now
		return map[string]any{"self_pay1_fen": c.SelfPay1Fen, "above_cap_fen": c.AboveCapFen}, nil
	})
}

// Return sends a submitted (union) or union-approved (办事处) claim back to the worker with a
// reason from ReturnReasons and free text (required for "other"). It returns Invalid for an
// unknown reason or a missing or long note, Forbidden for auditors, Conflict claim.wrong_status
// otherwise, and NotFound for a claim st does not see.
func (s *Service) Return(ctx context.Context, st model.Actor, claimID uint64, reason, note string) (Claim, error) {
	label, ok := reasonLabel(reason)
	if !ok {
		return Claim{}, errs.Invalid("reason", "请选择退回原因", "从列表中选择一项")
	}
	note = strings.TrimSpace(note)
	if reason == "other" && note == "" {
		return Claim{}, errs.Invalid("note", "选择“其他”时请写明需要补充什么", "例如：请补充出院小结第2页")
	}
	if utf8.RuneCountInString(note) > MaxNote {
		return Claim{}, errs.Invalidf("note", "请精简说明", "说明最多%d个字", MaxNote)
	}
	return s.act(ctx, st, claimID, "claim.return", func(tx *gorm.DB, c *model.Claim) (map[string]any, error) {
		switch {
		case role(st) == model.RoleAuditor:
			return nil, errs.New(errs.KindForbidden, "claim.forbidden", "审计账号只能查看")
		case c.Status == model.ClaimSubmitted && (role(st) == model.RoleUnion || role(st) == model.RoleAdmin):
		case c.Status == model.ClaimUnionApproved && (role(st) == model.RoleOperator || role(st) == model.RoleAdmin):
		default:
			return nil, wrongStatus(c, "退回")
		}
		now := s.now()
		c.Status, c.ReturnCode, c.ReturnNote, c.ReturnedAt = model.ClaimReturned, reason, note, &now
		c.Returns++
		c.UnionApprovedBy, c.UnionApprovedAt = "", nil
		if _, err := notify.Enqueue(ctx, tx, notify.Notice{Subject: fmt.Sprintf("claim:%d:return:%d", c.ID, c.Returns), MemberID: c.MemberID,
			Kind: model.NoticeClaimReturned, At: now, Payload: notify.Payload{ClaimID: c.ID, Reason: label}}); err != nil {
			return nil, err
		}
		return map[string]any{"reason": reason, "label": label, "note": note}, nil
	})
}

// Confirm is 办事处's confirmation of a union-approved claim: the claim becomes a medical record
// of source application, settled in its period's run like any other. Someone other than the
// union's approver must confirm (four eyes: above-cap claims reach 200,653 yuan). A feed record
// of the same bill flags the claim (DuplicateOf) and refuses it, so the bill is not paid twice.
// It returns Forbidden claim.forbidden for roles other than 办事处 and 市总, Forbidden
// claim.four_eyes for the approver, Conflict claim.duplicate, Conflict claim.wrong_status, and
// NotFound for a claim st does not see.
func (s *Service) Confirm(ctx context.Context, st model.Actor, claimID uint64) (Claim, error) {
	var dup error
	c, err := s.act(ctx, st, claimID, "claim.confirm", func(tx *gorm.DB, c *model.Claim) (map[string]any, error) {
		if role(st) != model.RoleOperator && role(st) != model.RoleAdmin {
			return nil, errs.New(errs.KindForbidden, "claim.forbidden", "只有办事处可以确认补充申请")
		}
		if c.Status != model.ClaimUnionApproved {
			return nil, wrongStatus(c, "确认")
		}
		if c.UnionApprovedBy == st.Username {
			return nil, errs.New(errs.KindForbidden, "claim.four_eyes", "审核和确认须由两个人分别办理").
				WithFix("请由办事处的另一位同事确认")
		}
		var m model.Member
		if err := lockMember(tx, c.MemberID, &m); err != nil {
			return nil, err
		}
		rec := model.MedicalRecord{RecordNo: fmt.Sprintf("CLAIM-%d", c.ID), MemberID: c.MemberID, ClaimType: c.ClaimType,
			VisitDate: c.VisitDate, DischargeDate: c.DischargeDate, Hospital: c.Hospital, TotalFen: c.TotalFen,
			SelfPay1Fen: c.SelfPay1Fen, AboveCapFen: c.AboveCapFen, MajorDisease: c.MajorDisease,
			Source: model.SourceApplication, ClaimID: c.ID}
		var feed []model.MedicalRecord
		if err := tx.Where("member_id = ? AND visit_date = ? AND source <> ?", c.MemberID, c.VisitDate, model.SourceApplication).
			Find(&feed).Error; err != nil {
			return nil, err
		}
		for _, f := range feed {
			if model.SameBill(rec, f) {
				// Flag it, commit the flag, and refuse: the claim waits for 办事处 to return it.
				c.DuplicateOf = f.ID
				dup = errs.New(errs.KindConflict, "claim.duplicate", "医保数据中已有这张票据（同一医院、日期和自付一金额），不能重复支付").
					WithFix("请把申请退回职工，原因选“这张票据已在医保数据中”")
				return map[string]any{"outcome": "duplicate", "record": f.ID}, nil
			}
		}
		if err := tx.Create(&rec).Error; err != nil {
			return nil, err
		}
		now := s.now()
		c.Status, c.ConfirmedBy, c.ConfirmedAt, c.RecordID, c.DuplicateOf = model.ClaimConfirmed, st.Username, &now, rec.ID, 0
		if _, err := notify.Enqueue(ctx, tx, notify.Notice{Subject: fmt.Sprintf("claim:%d", c.ID), MemberID: c.MemberID,
			Kind: model.NoticeClaimConfirmed, At: now, Payload: notify.Payload{ClaimID: c.ID,
				ClaimTypes: c.ClaimType.Class().Label()}}); err != nil {
			return nil, err
		}
		return map[string]any{"record": rec.ID, "self_pay1_fen": c.SelfPay1Fen, "above_cap_fen": c.AboveCapFen,
			"union_approved_by": c.UnionApprovedBy}, nil
	})
	if err == nil && dup != nil {
		return c, dup
	}
	return c, err
}

// UnionCount is the number of claims of one union in each status (drafts left out: they are the
// worker's own until submitted).
type UnionCount struct {
	UnionID  uint64
	Code     string
	Name     string
	ByStatus map[model.ClaimStatus]int64
	Total    int64
}

// CountedStatuses are the statuses Counts reports, in the order of the flow.
var CountedStatuses = []model.ClaimStatus{model.ClaimSubmitted, model.ClaimReturned, model.ClaimUnionApproved, model.ClaimConfirmed,
	model.ClaimSettled, model.ClaimPaid, model.ClaimWithdrawn}

// countedStatus is a claim's status as Counts reports it; the same text in SELECT and GROUP BY, as
// MySQL's ONLY_FULL_GROUP_BY wants. (A line's 'arrived' is model.LineArrived; 'paid' and 'settled'
// are model.ClaimPaid and model.ClaimSettled.)
const countedStatus = "CASE WHEN l.status = 'arrived' THEN 'paid' WHEN l.id IS NOT NULL THEN 'settled' ELSE c.status END"

// Counts returns the claims per union and status that st may see (union staff: their own union),
// by union code. Settled and paid come from the claims' payout lines, as everywhere.
func (s *Service) Counts(ctx context.Context, st model.Actor) ([]UnionCount, error) {
	if !role(st).Valid() {
		return nil, errs.New(errs.KindForbidden, "claim.forbidden", "无权查看补充申请")
	}
	q := s.db.WithContext(ctx).Table("claims AS c").
		Select("c.union_id, u.code, u.name, "+countedStatus+" AS status, COUNT(*) AS n").
		Joins("JOIN unions AS u ON u.id = c.union_id").
		Joins("LEFT JOIN payout_lines AS l ON c.record_id <> 0 AND l.record_id = c.record_id").
		Where("c.status <> ?", model.ClaimDraft)
	if role(st) == model.RoleUnion {
		q = q.Where("c.union_id = ?", st.UnionID)
	}
	var rows []struct {
		UnionID    uint64
		Code, Name string
		Status     model.ClaimStatus
		N          int64
	}
	if err := q.Group("c.union_id, u.code, u.name, " + countedStatus).
		Order("u.code").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count claims: %w", err)
	}
	var out []UnionCount
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].UnionID != r.UnionID {
			out = append(out, UnionCount{UnionID: r.UnionID, Code: r.Code, Name: r.Name, ByStatus: map[model.ClaimStatus]int64{}})
		}
		u := &out[len(out)-1]
		u.ByStatus[r.Status] += r.N
		u.Total += r.N
	}
	return out, nil
}
