// Package payout answers a worker's money questions: what the plan would pay for bills they
// type in or for their imported 医保 records not settled yet (Estimate, EstimateUnsettled), and
// what it has paid (List, Detail) with each payout's status timeline and explanation.
//
// Estimates run the same policy engine and eligibility rules as the settlement, with the
// member's real year-to-date figures: what every run so far computed for them in the bill's
// year (draft, approved or paid lines; failed transfers are re-issued, so they count too). An
// estimate writes nothing.
//
// Every method takes the member id of the caller and only ever reads that member's rows: a
// payout of another member is NotFound, exactly like one that does not exist.
package payout
