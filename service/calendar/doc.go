// Package calendar knows China's working days and the plan's settlement calendar.
//
// # Working days
//
// A working day is Monday to Friday, except the public holidays the State Council announces
// each year, plus the make-up working days (调休) it moves onto weekends. The holiday data come
// from github.com/6tail/lunar-go v1.4.7 (HolidayUtil), read once by New. That version holds the
// announcements from 2001-12-29 to 2027-10-09: full years 2002 to 2027. For a year after that
// the calendar knows only weekends until either lunar-go is upgraded or the year's days are
// passed to NewWithDays as extra Days (the config key calendar.extra_days: the State Council
// publishes the next year's plan each autumn or winter); Covers reports whether a date's year
// has official data, so callers can word a date as an estimate, and Gaps names this year or next
// when it has none, which serve logs at start and the console's dashboard shows.
//
// # Settlement windows
//
// From the plan's published rules (docs/domain.md):
//
//   - Outpatient (门诊) bills are settled per calendar quarter. The quarter's settlement starts on
//     the 21st of the month after the quarter: 2025-Q1 (January–March) from 2025-04-21, Q4 from
//     the 21st of January of the next year.
//   - Inpatient (普通住院, 特病住院) bills are settled per calendar month, from the 21st of the
//     following month: 2025-03 from 2025-04-21.
//   - The money is transferred within 10 working days. We count those days from the 21st itself
//     when it is a working day: the expected arrival date is the 10th working day on or after
//     the 21st (AddWorkdays(the 20th, 10)). For 2025-Q1 that is 2025-05-06: 21–25 April
//     (5), Sunday 27 April, a make-up day (6), 28–30 April (9), then the Labour Day holiday
//     1–5 May, and 6 May (10).
//
// A bill's period is the period of its bill date. Periods are written "2025-Q1" (outpatient)
// and "2025-03" (inpatient); ParsePeriod also reads "2025Q1", "2025-3", "202503",
// "2025年第1季度" and "2025年3月".
//
// All dates are civil dates in the Calendar's location (Asia/Shanghai in huzhu); every time.Time
// this package returns is midnight of a date in that location.
package calendar
