package staff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/pii"
)

// MemberRow is a member as staff see it: names masked, numbers as 尾号 only.
type MemberRow struct {
	ID          uint64
	Name        string // masked: 张*三
	IDLast4     string // masked: ****1234
	SocialLast4 string
	JingLast4   string
	UnionCode   string
	UnionName   string
	Employment  model.EmploymentStatus
	Hardship    bool
	ModelWorker bool
	Bound       bool
	BoundAt     *time.Time
}

// MemberQuery selects members: Name is a prefix of the full name (never shown in full).
type MemberQuery struct {
	Name  string
	Limit int
}

func (s *Service) scope(q *gorm.DB, st Staff) *gorm.DB {
	if st.Role == model.RoleUnion {
		return q.Where("m.union_id = ?", st.UnionID)
	}
	return q
}

type memberScan struct {
	model.Member
	UnionCode string
	UnionName string
	BoundAt   *time.Time
	Bound     bool
}

func (s *Service) memberQuery(ctx context.Context, st Staff) *gorm.DB {
	q := s.db.WithContext(ctx).Table("members AS m").
		Joins("JOIN unions AS u ON u.id = m.union_id").
		Joins("LEFT JOIN we_chat_accounts AS w ON w.member_id = m.id").
		Select("m.*, u.code AS union_code, u.name AS union_name, w.bound_at AS bound_at, w.id IS NOT NULL AS bound")
	return s.scope(q, st)
}

func row(m memberScan) MemberRow {
	return MemberRow{ID: m.ID, Name: pii.MaskName(m.Name), IDLast4: pii.MaskLast4(m.IDLast4), SocialLast4: pii.MaskLast4(m.SocialCardLast4),
		JingLast4: pii.MaskLast4(m.JingCardLast4), UnionCode: m.UnionCode, UnionName: m.UnionName, Employment: m.Employment,
		Hardship: m.Hardship, ModelWorker: m.ModelWorker, Bound: m.Bound, BoundAt: m.BoundAt}
}

// Members finds members whose name starts with q.Name, among those st may see (a union's staff
// see only their union's members), ordered by id.
func (s *Service) Members(ctx context.Context, st Staff, q MemberQuery) ([]MemberRow, error) {
	if !st.Can(ViewMembers) {
		return nil, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能查看会员")
	}
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = 50
	}
	db := s.memberQuery(ctx, st)
	if name := strings.TrimSpace(q.Name); name != "" {
		db = db.Where("m.name LIKE ?", strings.NewReplacer(`%`, "", `_`, "", `\`, "").Replace(name)+"%")
	}
	var rows []memberScan
	if err := db.Order("m.id").Limit(q.Limit).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("search members: %w", err)
	}
	out := make([]MemberRow, 0, len(rows))
	for _, m := range rows {
		out = append(out, row(m))
	}
	return out, nil
}

// Member returns one member. A member of another union is NotFound for a union's staff, the
// same answer as for an id that does not exist.
func (s *Service) Member(ctx context.Context, st Staff, id uint64) (MemberRow, error) {
	if !st.Can(ViewMembers) {
		return MemberRow{}, errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能查看会员")
	}
	var rows []memberScan
	if err := s.memberQuery(ctx, st).Where("m.id = ?", id).Limit(1).Scan(&rows).Error; err != nil {
		return MemberRow{}, fmt.Errorf("member %d: %w", id, err)
	}
	if len(rows) == 0 {
		return MemberRow{}, errs.NotFound("member.not_found", "没有找到这位会员")
	}
	return row(rows[0]), nil
}

// Unbind unlinks the member's WeChat account, for a worker who lost their phone or bound by
// mistake. It returns NotFound for a member st may not see and Conflict when nothing is bound.
func (s *Service) Unbind(ctx context.Context, st Staff, memberID uint64, ip string) error {
	if !st.Can(UnbindMember) {
		return errs.New(errs.KindForbidden, "staff.forbidden", "您的角色不能解除绑定")
	}
	m, err := s.Member(ctx, st, memberID)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var acc model.WeChatAccount
		if err := tx.Where("member_id = ?", m.ID).Take(&acc).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.New(errs.KindConflict, "member.not_bound", "这位会员没有绑定微信")
		} else if err != nil {
			return fmt.Errorf("unbind member %d: %w", m.ID, err)
		}
		if err := tx.Model(&model.WeChatAccount{}).Where("id = ?", acc.ID).
			Updates(map[string]any{"member_id": nil, "bound_at": nil}).Error; err != nil {
			return fmt.Errorf("unbind member %d: %w", m.ID, err)
		}
		var un model.Union
		_ = tx.Select("id").Where("code = ?", m.UnionCode).Take(&un).Error
		return audit.Write(ctx, tx, s.now(), audit.Entry{Actor: st.Username, Role: string(st.Role), Action: "member.unbind",
			Target: fmt.Sprintf("member:%d", m.ID), IP: ip, UnionID: un.ID, Detail: map[string]any{"account_id": acc.ID}})
	})
}

// AuditLog lists audit rows for st: a union's staff see only their union's rows.
func (s *Service) AuditLog(ctx context.Context, st Staff, f audit.Filter) ([]model.AuditLog, int64, error) {
	if st.Role == model.RoleUnion {
		f.UnionID = st.UnionID
	}
	return audit.List(ctx, s.db, f)
}
