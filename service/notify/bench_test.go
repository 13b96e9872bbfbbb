package notify

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"huzhu/model"
	"huzhu/service/kv/kvtest"
	"huzhu/service/store/storetest"
)

// TestDispatchThroughput is the load measure of the issue, off by default:
//
//	HUZHU_NOTIFY_BENCH=100000 HUZHU_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test' \
//	HUZHU_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run TestDispatchThroughput -v -timeout 30m ./service/notify/
//
// It queues N arrival notices for followers of the official account, runs 3 dispatchers (each
// with its own connection pool, sharing the Redis rate limit) against the fake WeChat server with
// 5% of calls answered "system busy", and reports notices per second, duplicates and losses.
func TestDispatchThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HUZHU_NOTIFY_BENCH"))
	if n <= 0 {
		t.Skip("set HUZHU_NOTIFY_BENCH=<notices> to run the throughput measure")
	}
	db, sopts := storetest.NewDBWithDSN(t)
	kvs := kvtest.New(t)
	proxy, wx := newWXProxy(t, 0.05, 0)
	adapter := NewWeChat(wx)

	start := time.Now()
	const chunk = 1000
	for base := 0; base < n; base += chunk {
		var ms []model.Member
		for i := base; i < min(base+chunk, n); i++ {
			ms = append(ms, model.Member{UnionID: 1, Name: "职工", IDNumberEnc: []byte("x"),
				IDNumberHash: fmt.Sprintf("id-%d", i), IDLast4: "0000"})
		}
		if err := db.Create(&ms).Error; err != nil {
			t.Fatal(err)
		}
		var as []model.WeChatAccount
		var ns []model.Notification
		for i := range ms {
			oa := fmt.Sprintf("oa-%d", base+i)
			as = append(as, model.WeChatAccount{MemberID: &ms[i].ID, OAOpenID: &oa, Following: true})
			ns = append(ns, model.Notification{DedupKey: DedupKey(TransferSubject(uint64(base+i+1)), model.NoticeArrived,
				model.ChannelTemplate), MemberID: ms[i].ID, Kind: model.NoticeArrived, Channel: model.ChannelTemplate,
				Payload: `{"amount_fen":20065300,"period":"2025-Q1","claim_types":"门诊","account_kind":"jingka","account_last4":"1234","transfer_id":` +
					strconv.Itoa(base+i+1) + `}`, Status: model.NoticePending, NextAttemptAt: start})
		}
		if err := db.Create(&as).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&ns).Error; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("queued %d notices in %v (backend %s, kv %s)", n, time.Since(start).Round(time.Millisecond),
		storetest.Backend(), kvtest.Backend())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	begin := time.Now()
	for i, pool := range openPools(t, db, sopts, 3) {
		d := New(pool, Senders{Template: adapter}, Options{
			Templates: testTemplates, Batch: 200, Concurrency: 32, RatePerSecond: 20000, KV: kvs,
			BaseBackoff: 200 * time.Millisecond, MaxBackoff: time.Second, PollInterval: 20 * time.Millisecond,
			Owner: fmt.Sprintf("bench-%d", i),
		}, time.Now, slog.New(slog.DiscardHandler))
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.Run(ctx) }()
	}
	var open int64
	for {
		time.Sleep(100 * time.Millisecond)
		if err := db.Model(&model.Notification{}).Where("status IN ?",
			[]model.NoticeStatus{model.NoticePending, model.NoticeSending}).Count(&open).Error; err != nil {
			t.Fatal(err)
		}
		if open == 0 || time.Since(begin) > 20*time.Minute {
			break
		}
	}
	elapsed := time.Since(begin)
	cancel()
	wg.Wait()

	var sent int64
	db.Model(&model.Notification{}).Where("status = ?", model.NoticeSent).Count(&sent)
	dup, delivered := 0, 0
	for _, v := range proxy.deliveries() {
		delivered++
		if v > 1 {
			dup += v - 1
		}
	}
	lost := n - delivered
	rate := float64(sent) / elapsed.Seconds()
	t.Logf("%d notices, 3 dispatchers, %d faults injected: %v, %.0f notices/s, %d sent rows, %d duplicates, %d lost, %d still open",
		n, proxy.faults, elapsed.Round(time.Millisecond), rate, sent, dup, lost, open)
	if dup != 0 || lost != 0 || open != 0 {
		t.Errorf("duplicates %d, lost %d, open %d; want 0, 0, 0", dup, lost, open)
	}
}
