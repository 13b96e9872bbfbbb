package model

import (
	"fmt"
	"time"
)

// Shanghai is the plan's time zone: periods, cut-offs and dates are all Asia/Shanghai. It is
// loaded from the embedded tzdata (cmd/huzhu imports time/tzdata), so it never fails.
var Shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

// Date is a calendar date in Asia/Shanghai stored as "2006-01-02". Dates of bills and visits are
// civil dates, not instants, so they are kept as text that sorts correctly on every database.
type Date string

// DateLayout is the layout of a Date.
const DateLayout = "2006-01-02"

// DateOf returns the Shanghai calendar date of t.
func DateOf(t time.Time) Date { return Date(t.In(Shanghai).Format(DateLayout)) }

// ParseDate accepts 2006-01-02, 2006/01/02, 2006.01.02 and 20060102.
func ParseDate(s string) (Date, error) {
	for _, layout := range []string{DateLayout, "2006/1/2", "2006.1.2", "20060102", "2006-1-2", "2006年1月2日"} {
		if t, err := time.ParseInLocation(layout, s, Shanghai); err == nil {
			return DateOf(t), nil
		}
	}
	return "", fmt.Errorf("date %q: want a date like 2025-03-14", s)
}

// Time returns midnight of d in Asia/Shanghai; the zero time for an empty or bad Date.
func (d Date) Time() time.Time {
	t, err := time.ParseInLocation(DateLayout, string(d), Shanghai)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Year returns the calendar year of d, or 0 for an empty Date.
func (d Date) Year() int {
	if d == "" {
		return 0
	}
	return d.Time().Year()
}
