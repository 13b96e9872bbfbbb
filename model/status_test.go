package model

import "testing"

func TestLineStatusTransitions(t *testing.T) {
	path := []LineStatus{LineComputed, LineApproved, LineTransfering, LineFailed, LineReissued, LineTransfering, LineArrived}
	for i := 1; i < len(path); i++ {
		if !path[i-1].CanTransitionTo(path[i]) {
			t.Errorf("%s → %s refused, want allowed", path[i-1], path[i])
		}
	}
	for _, bad := range [][2]LineStatus{{LineArrived, LineFailed}, {LineComputed, LineArrived}, {LineArrived, LineReissued}, {LineFailed, LineArrived}} {
		if bad[0].CanTransitionTo(bad[1]) {
			t.Errorf("%s → %s allowed, want refused", bad[0], bad[1])
		}
	}
}

func TestRunStatusTransitions(t *testing.T) {
	if !RunDraft.CanTransitionTo(RunApproved) || RunApproved.CanTransitionTo(RunDraft) {
		t.Error("approval must be one way: draft → approved, never back")
	}
	if RunDraft.CanTransitionTo(RunExported) {
		t.Error("a draft must not be exported before approval")
	}
}

func TestRunPayable(t *testing.T) {
	tests := []struct {
		status RunStatus
		total  Fen
		want   bool
	}{
		{RunDraft, 100, false},
		{RunApproved, 100, true},
		{RunExported, 100, true}, // a re-issued transfer goes out with the next export
		{RunClosed, 100, false},
		{RunApproved, 0, false}, // every line capped or rejected: nothing to send
	}
	for _, tc := range tests {
		if got := (SettlementRun{Status: tc.status, TotalFen: tc.total}).Payable(); got != tc.want {
			t.Errorf("run %s of %d fen: Payable() = %v, want %v", tc.status, tc.total, got, tc.want)
		}
	}
}
