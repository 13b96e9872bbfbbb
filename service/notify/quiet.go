package notify

import (
	"fmt"
	"time"

	"huzhu/model"
)

// Quiet is a daily window, in Asia/Shanghai, during which non-urgent notices wait. Start and End
// are minutes after midnight; a window may wrap midnight (22:00–08:00). Start == End disables it.
type Quiet struct {
	Start, End int
}

// ParseQuiet reads "22:00" and "08:00". Two empty strings give no quiet hours.
func ParseQuiet(start, end string) (Quiet, error) {
	if start == "" && end == "" {
		return Quiet{}, nil
	}
	s, err := parseClock(start)
	if err != nil {
		return Quiet{}, fmt.Errorf("quiet hours start: %w", err)
	}
	e, err := parseClock(end)
	if err != nil {
		return Quiet{}, fmt.Errorf("quiet hours end: %w", err)
	}
	return Quiet{Start: s, End: e}, nil
}

func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not HH:MM (example: 22:00)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// In reports whether t falls inside the window, and if so when the window ends.
func (q Quiet) In(t time.Time) (bool, time.Time) {
	if q.Start == q.End {
		return false, time.Time{}
	}
	l := t.In(model.Shanghai)
	mins := l.Hour()*60 + l.Minute()
	midnight := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, model.Shanghai)
	endToday := midnight.Add(time.Duration(q.End) * time.Minute)
	if q.Start < q.End { // same-day window, e.g. 12:00–14:00
		if mins >= q.Start && mins < q.End {
			return true, endToday
		}
		return false, time.Time{}
	}
	switch { // wraps midnight, e.g. 22:00–08:00
	case mins >= q.Start:
		return true, endToday.AddDate(0, 0, 1)
	case mins < q.End:
		return true, endToday
	}
	return false, time.Time{}
}

// Defer returns when a non-urgent notice due at t may go: t itself, or the end of quiet hours.
func (q Quiet) Defer(t time.Time) time.Time {
	if in, end := q.In(t); in {
		return end
	}
	return t
}
