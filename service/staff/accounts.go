package staff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"huzhu/model"
	"huzhu/service/audit"
	"huzhu/service/errs"
	"huzhu/service/store"
)

// The console's account page (admin only). Every change is audited in its transaction with the
// acting admin. An enabled admin always remains: the actor must be an enabled admin, checked
// inside the transaction with the admins' rows locked, and may not disable or demote themselves;
// so whatever a change does to another account, the actor is still there. Two admins demoting
// each other at once are serialized by the lock, and the second finds they are no longer admin.

// Account is a staff account as the account page lists it (never the password hash).
type Account struct {
	ID          uint64
	Username    string
	DisplayName string
	Role        model.Role
	UnionCode   string
	UnionName   string
	Disabled    bool
	LockedUntil *time.Time // set while a lock-out after wrong passwords lasts (accounts of older releases)
	// MustChangePassword: the password is one an admin set, not yet changed by its owner.
	MustChangePassword bool
	TOTPEnabledAt      *time.Time // when the second factor was turned on; nil without one
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// AccountChange is what an admin may change of an account: the display name, the role and, for
// RoleUnion, the union (by code). The username never changes: the audit log refers to it.
type AccountChange struct {
	DisplayName string
	Role        model.Role
	UnionCode   string
}

func forbidden() error {
	return errs.New(errs.KindForbidden, "staff.forbidden", "只有市总管理员可以管理账号").WithFix("如需开通或修改账号，请联系市总管理员")
}

func accountNotFound() error { return errs.NotFound("staff.not_found", "没有这个账号") }

// Accounts lists every account, admins first, then by username. It returns Forbidden unless a
// may ManageStaff.
func (s *Service) Accounts(ctx context.Context, a model.Actor) ([]Account, error) {
	if !a.Can(ManageStaff) {
		return nil, forbidden()
	}
	return s.accounts(ctx, s.db.WithContext(ctx))
}

// Account returns one account, NotFound when there is none with id.
func (s *Service) Account(ctx context.Context, a model.Actor, id uint64) (Account, error) {
	if !a.Can(ManageStaff) {
		return Account{}, forbidden()
	}
	out, err := s.accounts(ctx, s.db.WithContext(ctx).Where("a.id = ?", id))
	if err != nil {
		return Account{}, err
	}
	if len(out) == 0 {
		return Account{}, accountNotFound()
	}
	return out[0], nil
}

func (s *Service) accounts(_ context.Context, q *gorm.DB) ([]Account, error) {
	var out []Account
	err := q.Table("admin_users AS a").
		Select("a.id, a.username, a.display_name, a.role, COALESCE(u.code, '') AS union_code, COALESCE(u.name, '') AS union_name, a.disabled, a.locked_until, a.must_change_password, a.totp_enabled_at, a.created_at, a.updated_at").
		Joins("LEFT JOIN unions AS u ON u.id = a.union_id AND a.union_id > 0").
		Order("CASE WHEN a.role = 'admin' THEN 0 ELSE 1 END, a.username").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list staff accounts: %w", err)
	}
	now := s.now()
	for i := range out {
		if out[i].LockedUntil != nil && !now.Before(*out[i].LockedUntil) {
			out[i].LockedUntil = nil
		}
	}
	return out, nil
}

// CreateAccount creates an account with a bcrypt hash of the password, audited as a's. A person
// must be an enabled admin (checked in the transaction); the account must then change the
// password at its first login, since someone else chose it. It returns Forbidden unless a may
// ManageStaff, Invalid for a bad username, display name, role, union code or a weak password,
// and Conflict when the username is taken.
func (s *Service) CreateAccount(ctx context.Context, a model.Actor, u NewUser) (model.AdminUser, error) {
	if !a.Can(ManageStaff) {
		return model.AdminUser{}, forbidden()
	}
	return s.createUser(ctx, u, func(tx *gorm.DB) error { return s.lockAdmins(tx, a, 0) }, a.Via != model.ViaSystem, audit.By(a))
}

// ChangeAccount sets the display name, role and union of account id. An admin may not give up
// their own admin role (Conflict, staff.self), which also keeps the last admin. Invalid as
// CreateUser for a bad role or union code; Forbidden unless st may ManageStaff and is still an
// enabled admin.
func (s *Service) ChangeAccount(ctx context.Context, a model.Actor, id uint64, c AccountChange) error {
	if !a.Can(ManageStaff) {
		return forbidden()
	}
	c.UnionCode = strings.TrimSpace(c.UnionCode)
	if err := checkDisplayName(c.DisplayName); err != nil {
		return err
	}
	if !c.Role.Valid() {
		return errs.Invalid("role", "角色不对", "可选 市总管理员、办事处、基层工会、审计")
	}
	return s.change(ctx, a, id, func(tx *gorm.DB, u model.AdminUser, e *audit.Entry) error {
		if u.Username == a.Username && c.Role != model.RoleAdmin {
			return errs.New(errs.KindConflict, "staff.self", "不能取消自己的管理员角色").WithFix("请让另一位市总管理员操作")
		}
		union, err := unionOf(tx, c.Role, c.UnionCode)
		if err != nil {
			return err
		}
		name := strings.TrimSpace(c.DisplayName)
		err = tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).
			Updates(map[string]any{"display_name": name, "role": c.Role, "union_id": union, "updated_at": s.now()}).Error
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		e.Action = "staff.update"
		e.Detail = map[string]any{"username": u.Username, "role_from": u.Role, "role": c.Role, "union_code": c.UnionCode,
			"display_name": name}
		e.UnionID = union
		return nil
	})
}

// SetDisabled disables or enables account id. A disabled account cannot log in and its sessions
// end at their next request. An admin may not disable themselves (Conflict, staff.self), which
// also keeps the last admin. Enabling also lifts a lock-out.
func (s *Service) SetDisabled(ctx context.Context, a model.Actor, id uint64, disabled bool) error {
	if !a.Can(ManageStaff) {
		return forbidden()
	}
	return s.change(ctx, a, id, func(tx *gorm.DB, u model.AdminUser, e *audit.Entry) error {
		set := map[string]any{"disabled": disabled, "updated_at": s.now()}
		e.Action, e.Detail = "staff.enable", map[string]any{"username": u.Username}
		if disabled {
			if u.Username == a.Username {
				return errs.New(errs.KindConflict, "staff.self", "不能停用自己的账号").WithFix("请让另一位市总管理员操作")
			}
			e.Action = "staff.disable"
		} else {
			set["failed_logins"], set["locked_until"] = 0, nil
		}
		if err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).Updates(set).Error; err != nil {
			return fmt.Errorf("update: %w", err)
		}
		return nil
	})
}

// ResetPassword gives account id a new password (checked as CreateUser checks it) and lifts a
// lock-out. Every session of the account ends at once, including the actor's own when they reset
// their own password. The password is never logged or audited.
func (s *Service) ResetPassword(ctx context.Context, a model.Actor, id uint64, password string) error {
	if !a.Can(ManageStaff) {
		return forbidden()
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.o.BcryptCost)
	if err != nil {
		return fmt.Errorf("reset password of staff %d: hash: %w", id, err)
	}
	return s.change(ctx, a, id, func(tx *gorm.DB, u model.AdminUser, e *audit.Entry) error {
		if err := checkPassword(password, u.Username); err != nil {
			return err
		}
		// Someone else chose this password: the account must choose its own at the next login
		// (unless it is the actor's own account).
		err := tx.Model(&model.AdminUser{}).Where("id = ?", u.ID).
			Updates(map[string]any{"password_hash": string(hash), "failed_logins": 0, "locked_until": nil, "updated_at": s.now(),
				"must_change_password": u.Username != a.Username}).Error
		if err != nil {
			return fmt.Errorf("update: %w", err)
		}
		e.Action, e.Detail = "staff.password_reset", map[string]any{"username": u.Username}
		return nil
	})
}

// change runs fn on account id inside a transaction that first checks the actor, then writes
// the audit entry fn fills in.
func (s *Service) change(ctx context.Context, a model.Actor, id uint64,
	fn func(tx *gorm.DB, u model.AdminUser, e *audit.Entry) error) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := s.lockAdmins(tx, a, id); err != nil {
			return err
		}
		var u model.AdminUser
		if err := tx.Take(&u, id).Error; errors.Is(err, gorm.ErrRecordNotFound) {
			return accountNotFound()
		} else if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		e := audit.By(a)
		e.Target, e.UnionID = fmt.Sprintf("staff:%d", u.ID), u.UnionID
		if err := fn(tx, u, &e); err != nil {
			return err
		}
		return audit.Write(ctx, tx, s.now(), e)
	})
	if err != nil {
		if _, ok := errs.As(err); ok {
			return err
		}
		return fmt.Errorf("change staff %d: %w", id, err)
	}
	return nil
}

// lockAdmins locks the rows of the enabled admins and of account target (MySQL: SELECT … FOR
// UPDATE; SQLite writes one at a time anyway) and checks that a person actor is still one of
// those admins. The process itself and break glass have no row: a.Can already let them.
func (s *Service) lockAdmins(tx *gorm.DB, a model.Actor, target uint64) error {
	q := tx.Model(&model.AdminUser{}).Where("(role = ? AND disabled = ?) OR id = ?", model.RoleAdmin, false, target)
	if store.IsMySQL(tx) {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var rows []model.AdminUser
	if err := q.Select("id", "username", "role", "disabled").Find(&rows).Error; err != nil {
		return fmt.Errorf("lock admins: %w", err)
	}
	if a.Via == model.ViaSystem || a.Via == model.ViaBreakGlass {
		return nil
	}
	for _, r := range rows {
		if r.Username == a.Username && r.Role == model.RoleAdmin && !r.Disabled {
			return nil
		}
	}
	return forbidden()
}
