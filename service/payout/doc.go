// Package payout answers a worker's money questions: what the plan would pay for bills they
// type in or for their imported 医保 records not settled yet (Estimate, EstimateUnsettled), and
// what it has paid (List, Detail, Year) with each payout's status timeline and explanation.
//
// # Year-to-date: one rule for every channel
//
// A worker sees the same figures of a year wherever they ask (the mini-program's list and
// detail, the estimate, the bot's 今年报了多少 and 还能报多少), because all of them come from
// Totals (Year, List, Detail) and the estimate's YearToDate, which count the same lines:
//
//   - Lines of a run awaiting approval (status computed, "drafts") are not money promised to the
//     worker: staff may still recalculate or discard the run. They are never told as paid or
//     on their way, only as DraftFen ("正在审核").
//   - Approved lines and later (approved, transferring, arrived, failed, re-issued) are
//     promised: ArrivedFen + OnTheWayFen. A failed transfer is re-issued on the same line, so
//     it stays promised.
//   - What is left of the annual cap (LeftFen) is the cap less every payable line, drafts
//     included. A draft is not promised, but the next settlement run counts it against the cap
//     (settlement's priorYearToDate counts every other run's lines, so two runs in draft at
//     once cannot both spend the same room), and a left figure that ignored it would be a
//     promise the approval breaks. Understating by a draft later recalculated down corrects
//     itself at approval; overstating would not.
//
// Estimates run the same policy engine and eligibility rules as the settlement, with the
// member's real year-to-date position: what every run so far computed for them in the bill's
// year (draft, approved or paid lines, as the settlement counts them). An estimate writes
// nothing.
//
// Every method takes the member id of the caller and only ever reads that member's rows: a
// payout of another member is NotFound, exactly like one that does not exist.
package payout
