package member

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
)

// Unbinding is one path for the worker (Unbind, from the mini-program) and for staff
// (UnbindMember, from the console): the same update, the same audit row, and the same end of
// this process's cached binding and pending binding code.

// UnbindMember unlinks member memberID's WeChat account for staff: a worker who lost their phone
// or whose card someone else bound. A union's staff may unbind only their own union's members.
// It returns Forbidden unless a may UnbindMember, NotFound for an unknown member or one a may
// not see, and Conflict (member.not_bound) when nothing is bound. Audited as member.unbind with
// a's role, address and door and the member's union.
func (s *Service) UnbindMember(ctx context.Context, a model.Actor, memberID uint64) error {
	if err := audit.Need(a, model.ActUnbindMember); err != nil {
		return err
	}
	var m model.Member
	err := s.db.WithContext(ctx).Select("id", "union_id").Take(&m, memberID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && a.Role == model.RoleUnion && m.UnionID != a.UnionID) {
		return errs.NotFound("member.not_found", "没有找到这位会员")
	}
	if err != nil {
		return fmt.Errorf("unbind member %d: %w", memberID, err)
	}
	var acc model.WeChatAccount
	if err := s.db.WithContext(ctx).Select("id").Where("member_id = ?", m.ID).Take(&acc).Error; errors.Is(err, gorm.ErrRecordNotFound) {
		return errs.New(errs.KindConflict, "member.not_bound", "这位会员没有绑定微信")
	} else if err != nil {
		return fmt.Errorf("unbind member %d: %w", m.ID, err)
	}
	e := audit.By(a)
	e.Detail = map[string]any{"account_id": acc.ID, "by": "staff"}
	err = s.unbind(ctx, acc.ID, m.ID, e)
	if errors.Is(err, ErrNotBound) {
		return errs.New(errs.KindConflict, "member.not_bound", "这位会员没有绑定微信")
	}
	return err
}

// unbind unlinks account accountID from member memberID and writes e as the member.unbind audit
// row in the same transaction; then it drops the account's cached binding and pending code. It
// returns ErrNotBound when the account is not bound to that member (any more).
func (s *Service) unbind(ctx context.Context, accountID, memberID uint64, e audit.Entry) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&model.WeChatAccount{}).Where("id = ? AND member_id = ?", accountID, memberID).
			Updates(map[string]any{"member_id": nil, "bound_at": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotBound
		}
		var unionID uint64
		if err := tx.Model(&model.Member{}).Where("id = ?", memberID).Pluck("union_id", &unionID).Error; err != nil {
			return err
		}
		e.Action, e.Target, e.UnionID = "member.unbind", memberTarget(memberID), unionID
		return audit.Write(ctx, tx, s.now(), e)
	})
	if e, ok := errs.As(err); ok {
		return e
	}
	if err != nil {
		return fmt.Errorf("unbind account %d: %w", accountID, err)
	}
	s.forget(accountID)
	_ = s.kv.Del(ctx, codeKey(accountID))
	return nil
}
