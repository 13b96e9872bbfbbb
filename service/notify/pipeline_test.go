package notify

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/store/storetest"
)

// slowTemplate answers every template message at once except those to slowTo, which take slowFor.
type slowTemplate struct {
	slowTo  string
	slowFor time.Duration
	n       atomic.Int64
}

func (s *slowTemplate) SendTemplate(ctx context.Context, m TemplateMessage) (int64, error) {
	if m.ToUser == s.slowTo {
		select {
		case <-time.After(s.slowFor):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return s.n.Add(1), nil
}

// TestSlowAnswerHoldsOneSend: while WeChat takes 3 s to answer one message, Run keeps sending
// the others (seen: 2% of 8-second answers cut two dispatchers to 41 notices/s).
func TestSlowAnswerHoldsOneSend(t *testing.T) {
	db := storetest.NewDB(t)
	c := testCipher(t)
	tmpl := &slowTemplate{slowTo: "oa-0", slowFor: 3 * time.Second}
	d := New(db, Senders{Template: tmpl}, Options{Templates: testTemplates, Batch: 5, Concurrency: 16,
		PollInterval: 10 * time.Millisecond}, time.Now, quietLog())
	const n = 40
	for i := range n {
		m := mustMember(t, db, c, i, person{follows: true})
		mustEnqueue(t, db, m, uint64(i+1), model.NoticeArrived, time.Now().Add(-time.Duration(n-i)*time.Second))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(2 * time.Second)
	var sent int64
	for time.Now().Before(deadline) {
		db.Model(&model.Notification{}).Where("status = ?", model.NoticeSent).Count(&sent)
		if sent == n-1 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%d of the %d quick notices sent within 2 s while one answer took 3 s; a slow answer held the others", sent, n-1)
}
