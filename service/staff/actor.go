package staff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
)

// ActorOf returns the enabled account username as an actor coming through via: how the command
// line (`--as USERNAME`) acts as a person, with that person's role and union, so that it is
// refused what the console would refuse them. It returns Unauthenticated (staff.unknown_actor)
// for an unknown or disabled account.
func (s *Service) ActorOf(ctx context.Context, username string, via model.Via) (model.Actor, error) {
	username = strings.TrimSpace(username)
	var u model.AdminUser
	err := s.db.WithContext(ctx).Where("username = ?", username).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) || (err == nil && u.Disabled) {
		return model.Actor{}, errs.New(errs.KindUnauthenticated, "staff.unknown_actor", fmt.Sprintf("没有启用中的工作人员账号“%s”", clip(username))).
			WithFix("--as 后面写控制台的用户名；账号由市总管理员在控制台“账号”页开通")
	}
	if err != nil {
		return model.Actor{}, fmt.Errorf("actor %s: %w", clip(username), err)
	}
	return model.Actor{Username: u.Username, Role: u.Role, UnionID: u.UnionID, Via: via}, nil
}

// BreakGlass returns the actor of a command run with --break-glass: the operating-system user
// osUser acting as an admin without an account, for when no admin can act (the only one locked
// out or gone). It writes an audit row staff.break_glass with the reason and the command first,
// and every row the actor writes after carries Via break_glass. It returns Invalid without a
// reason.
func (s *Service) BreakGlass(ctx context.Context, osUser, reason, command string) (model.Actor, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 200 {
		return model.Actor{}, errs.Invalid("break_glass", "紧急操作必须写明原因（200 字以内）", `例如 --break-glass "唯一的管理员离职，恢复管理员账号"`)
	}
	a := model.Actor{Username: clip("cli:" + osUser), Role: model.RoleAdmin, Via: model.ViaBreakGlass}
	e := audit.By(a)
	e.Action, e.Detail = "staff.break_glass", map[string]string{"reason": reason, "command": command}
	if err := audit.Write(ctx, s.db, s.now(), e); err != nil {
		return model.Actor{}, fmt.Errorf("break glass: %w", err)
	}
	return a, nil
}
