package notify

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sent, failed, skipped *prometheus.CounterVec
	retried, fallback     *prometheus.CounterVec
	leaseLost             prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huzhu_notify_sent_total",
			Help: "Notices delivered, by channel."}, []string{"channel"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huzhu_notify_failed_total",
			Help: "Notices that ended as failed (visible to staff), by channel."}, []string{"channel"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huzhu_notify_skipped_total",
			Help: "Notice rows skipped on a channel (unusable or refused), by channel."}, []string{"channel"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huzhu_notify_retried_total",
			Help: "Send attempts that will be retried, by channel and failure kind."}, []string{"channel", "kind"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "huzhu_notify_fallback_total",
			Help: "Notices moved to the next channel."}, []string{"from", "to"}),
		leaseLost: prometheus.NewCounter(prometheus.CounterOpts{Name: "huzhu_notify_lease_lost_total",
			Help: "Outcomes that could not be recorded because the lease had expired (possible duplicates)."}),
	}
	if r == nil {
		return m
	}
	m.sent = register(r, m.sent)
	m.failed = register(r, m.failed)
	m.skipped = register(r, m.skipped)
	m.retried = register(r, m.retried)
	m.fallback = register(r, m.fallback)
	m.leaseLost = register(r, m.leaseLost)
	return m
}

// register registers c, or returns the collector already registered under the same name, so
// several dispatchers in one process share their counters.
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
