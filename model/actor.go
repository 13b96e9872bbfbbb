package model

// Via is the door a staff action came through.
type Via string

// Doors of staff actions.
const (
	ViaConsole Via = "console" // the console's pages at /admin
	ViaAPI     Via = "api"     // the console's JSON endpoints at /admin/api
	ViaCLI     Via = "cli"     // a `huzhu` subcommand run with --as USERNAME
	// ViaBreakGlass is a `huzhu` subcommand run with --break-glass instead of --as: someone with
	// the server's shell acts as an admin without an account (the only admin locked out, say).
	// Every row it writes says so.
	ViaBreakGlass Via = "break_glass"
	// ViaSystem is the process itself (the demo seeder): no person, no role check.
	ViaSystem Via = "system"
)

// Actor is who asks a service to do something: the one caller value every staff-initiated
// method takes. Services decide with it what is allowed (Can, CanApprove), scope what is shown
// (UnionID) and fill the audit row (Username, Role, IP, UnionID, Via). Only the composition root
// and the console's session check build Actors; a request never supplies one.
type Actor struct {
	Username string
	Role     Role
	UnionID  uint64 // RoleUnion: the only union this actor sees
	IP       string // the client's address; empty on the command line
	Via      Via
}

// Action is something staff may do.
type Action string

// Actions of staff. Reading members is allowed to every role, scoped for RoleUnion by the
// member queries themselves.
const (
	ActViewPlan       Action = "view_plan"        // runs, payments, imports, notices, policy, audit
	ActViewMembers    Action = "view_members"     // member search and detail
	ActImport         Action = "import"           // upload rosters and 医保 files
	ActSettle         Action = "settle"           // create or recalculate a run
	ActApprove        Action = "approve"          // approve a run (see CanApprove)
	ActPay            Action = "pay"              // upload bank results, re-issue
	ActRetryNotice    Action = "retry_notice"     // retry failed notices
	ActUnbindMember   Action = "unbind_member"    // unlink a member's WeChat account
	ActAskBot         Action = "ask_bot"          // try the FAQ bot
	ActDownloadFiles  Action = "download_files"   // export bank files with full account numbers
	ActViewAllFigures Action = "view_all_figures" // figures of every union
	ActEditFAQ        Action = "edit_faq"         // add, change and retire the bot's knowledge-base entries
	ActEditPolicy     Action = "edit_policy"      // add a policy version
	ActManageStaff    Action = "manage_staff"     // create, change, disable staff accounts and reset passwords
)

// Can reports whether role r may do a: admin everything, operator the plan's work, union their
// own members, auditor reading only. What the plan pays and answers (policy versions, the bot's
// knowledge base) and who may use the console are the 市总's to change: admin only.
func (r Role) Can(a Action) bool {
	switch r {
	case RoleAdmin:
		return true
	case RoleOperator:
		return a != ActEditFAQ && a != ActEditPolicy && a != ActManageStaff
	case RoleUnion:
		switch a {
		case ActViewMembers, ActUnbindMember, ActAskBot:
			return true
		}
	case RoleAuditor:
		switch a {
		case ActViewPlan, ActViewMembers, ActAskBot, ActViewAllFigures:
			return true
		}
	}
	return false
}

// Can reports whether a may do act: the process itself may do anything, a break-glass actor
// what an admin may, a person what their role may.
func (a Actor) Can(act Action) bool {
	switch a.Via {
	case ViaSystem:
		return true
	case ViaBreakGlass:
		return RoleAdmin.Can(act)
	}
	return a.Username != "" && a.Role.Can(act)
}

// CanApprove reports whether a may approve a run last computed by createdBy (four eyes): an
// operator never their own run; an admin (市总) may, as the 市总 answers for the plan.
func (a Actor) CanApprove(createdBy string) bool {
	if !a.Can(ActApprove) {
		return false
	}
	return a.Role == RoleAdmin || a.Via == ViaSystem || createdBy != a.Username
}
