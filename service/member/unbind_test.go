package member_test

import (
	"context"
	"testing"

	"huzhu/model"
	"huzhu/service/errs"
	"huzhu/service/member"
)

// TestUnbindMember: staff unbind through the same path as the worker: a union's staff only their
// own union's members (another union's is NotFound, as if absent), an auditor not at all, and
// the audit row carries the staff member's role, address and door and the member's union.
func TestUnbindMember(t *testing.T) {
	f := newFixture(t, member.Options{})
	ctx := context.Background()
	other := model.Union{Code: "U2", Name: "别的工会"}
	mustDo(t, f.db.Create(&other).Error)
	bound := now
	openID := "mp-unbind"
	acct := model.WeChatAccount{MPOpenID: &openID, MemberID: &f.m.ID, BoundAt: &bound}
	mustDo(t, f.db.Create(&acct).Error)
	person := func(name string, role model.Role, union uint64) model.Actor {
		return model.Actor{Username: name, Role: role, UnionID: union, IP: "10.1.1.1", Via: model.ViaConsole}
	}
	tests := []struct {
		name string
		a    model.Actor
		id   uint64
		kind errs.Kind
	}{
		{"an auditor", person("aud", model.RoleAuditor, 0), f.m.ID, errs.KindForbidden},
		{"another union's staff", person("u2", model.RoleUnion, other.ID), f.m.ID, errs.KindNotFound},
		{"an unknown member", person("op", model.RoleOperator, 0), 99999, errs.KindNotFound},
		{"the member's union", person("u1", model.RoleUnion, f.m.UnionID), f.m.ID, 0},
		{"nothing bound any more", person("op", model.RoleOperator, 0), f.m.ID, errs.KindConflict},
	}
	for _, tc := range tests {
		err := f.svc.UnbindMember(ctx, tc.a, tc.id)
		if tc.kind == 0 && err != nil || tc.kind != 0 && errs.KindOf(err) != tc.kind {
			t.Errorf("%s: UnbindMember = %v, want kind %v", tc.name, err, tc.kind)
		}
	}
	var got model.WeChatAccount
	mustDo(t, f.db.Take(&got, acct.ID).Error)
	if got.MemberID != nil {
		t.Errorf("account after the unbinding = member %v, want none", *got.MemberID)
	}
	var rows []model.AuditLog
	mustDo(t, f.db.Where("action = ?", "member.unbind").Find(&rows).Error)
	if len(rows) != 1 || rows[0].Actor != "u1" || rows[0].Role != "union" || rows[0].IP != "10.1.1.1" || rows[0].Via != "console" ||
		rows[0].UnionID != f.m.UnionID || rows[0].Target == "" {
		t.Errorf("member.unbind audit rows = %+v, want one by u1 with role, address, door and union", rows)
	}
}
