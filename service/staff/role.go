package staff

import "huzhu/model"

// Action is something a staff member may do; the rules are model.Role.Can's, one table for the
// console, the command line and the services.
type Action = model.Action

// Actions of the console, under the names the console has always used.
const (
	ViewPlan       = model.ActViewPlan
	ViewMembers    = model.ActViewMembers
	Import         = model.ActImport
	Settle         = model.ActSettle
	Approve        = model.ActApprove
	Pay            = model.ActPay
	RetryNotice    = model.ActRetryNotice
	UnbindMember   = model.ActUnbindMember
	AskBot         = model.ActAskBot
	DownloadFiles  = model.ActDownloadFiles
	ViewAllFigures = model.ActViewAllFigures
	EditFAQ        = model.ActEditFAQ
	EditPolicy     = model.ActEditPolicy
	ManageStaff    = model.ActManageStaff
)

// Can reports whether st may do a. Approving also needs CanApprove for the run.
func (st Staff) Can(a Action) bool { return st.Role.Can(a) }

// CanApprove reports whether st may approve a run created by createdBy (model.Actor.CanApprove).
func (st Staff) CanApprove(createdBy string) bool {
	return st.Actor("", model.ViaConsole).CanApprove(createdBy)
}

// Actor is st acting from ip through via: the caller value the services take.
func (st Staff) Actor(ip string, via model.Via) model.Actor {
	return model.Actor{Username: st.Username, Role: st.Role, UnionID: st.UnionID, IP: ip, Via: via}
}
