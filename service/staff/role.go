package staff

import "huzhu/model"

// Action is something a staff member may do in the console.
type Action string

// Actions of the console. Reading members is allowed to every role, scoped for RoleUnion by
// the member queries themselves.
const (
	ViewPlan       Action = "view_plan"        // runs, payments, imports, notices, policy, audit
	ViewMembers    Action = "view_members"     // member search and detail
	Import         Action = "import"           // upload rosters and 医保 files
	Settle         Action = "settle"           // create or recalculate a run
	Approve        Action = "approve"          // approve a run (operators: only runs they did not create)
	Pay            Action = "pay"              // export bank files, upload results, re-issue
	RetryNotice    Action = "retry_notice"     // retry failed notices
	UnbindMember   Action = "unbind_member"    // unlink a member's WeChat account
	AskBot         Action = "ask_bot"          // try the FAQ bot
	DownloadFiles  Action = "download_files"   // bank files with full account numbers
	ViewAllFigures Action = "view_all_figures" // figures of every union
	EditFAQ        Action = "edit_faq"         // add, change and retire the bot's knowledge-base entries
	EditPolicy     Action = "edit_policy"      // add a policy version
	ManageStaff    Action = "manage_staff"     // create, change, disable staff accounts and reset passwords
)

// can lists who may do what: admin everything, operator the plan's work, union their own
// members, auditor reading only. What the plan pays and answers (policy versions, the bot's
// knowledge base) and who may use the console are the 市总's to change: admin only.
func can(r model.Role, a Action) bool {
	switch r {
	case model.RoleAdmin:
		return true
	case model.RoleOperator:
		return a != EditFAQ && a != EditPolicy && a != ManageStaff
	case model.RoleUnion:
		switch a {
		case ViewMembers, UnbindMember, AskBot:
			return true
		}
	case model.RoleAuditor:
		switch a {
		case ViewPlan, ViewMembers, AskBot, ViewAllFigures:
			return true
		}
	}
	return false
}

// Can reports whether st may do a. Approving also needs CanApprove for the run.
func (st Staff) Can(a Action) bool { return can(st.Role, a) }

// CanApprove reports whether st may approve a run created by createdBy: an operator may not
// approve their own run (four eyes); an admin may.
func (st Staff) CanApprove(createdBy string) bool {
	if !st.Can(Approve) {
		return false
	}
	return st.Role == model.RoleAdmin || createdBy != st.Username
}
