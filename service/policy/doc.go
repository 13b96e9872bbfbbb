// Package policy is the plan's rule book and calculator: it reads the effective-dated policy
// versions (config/policy.yaml, or one version edited in the console) and computes what the plan
// pays for a worker's bills, with a step-by-step explanation in Chinese a worker can read.
//
// The package is pure: no database, network, files or clock. The same Input always gives the
// same Result, whatever the order of the bills, so a settlement run can be repeated or resumed
// and an estimate shown in WeChat matches the later payout.
//
// # Policy data
//
// Figures the seed documents give (annual caps, the +5 points for 困难职工 and 劳模, the 40%–90%
// range of the major-disease ladder) and figures they do not give (per-type ratios, deductibles,
// the ladder's boundaries, the date of the 2021 change) live in the policy file, each with a
// source mark — "seed: <document, quote>" or "assumed" — so staff can correct the assumptions
// without a release and nobody mistakes them for official figures. Money is written in yuan as
// decimal strings and ratios as percent strings; both are read exactly, never through a float.
//
// # How a bill is computed
//
// Bills are processed by date, then record ID. Each uses the version in force on its date and
// belongs to the calendar year of its date, so a year can straddle two versions (2021: January to
// June under the 2008 rules, July on under the 2021 rules). For each bill:
//
//  1. Deductible: the first DeductibleFen of the year's 自付一 of each claim type is not paid.
//  2. Ratio part: 自付一 after the deductible × (claim-type ratio + bonus), with bonus the
//     version's BonusBP when a 困难职工 or 劳模 fact covers the bill date. The bonus is added
//     once even when both apply, never to the ladder, and the sum is at most 100%. (The seeds
//     only say "提高5%"; these details are assumptions.)
//  3. Major disease: the part of 自付一 above the basic-insurance cap is paid by the ladder at
//     the year's cumulative above-cap position (earlier runs plus earlier major-disease bills of
//     the year), so that several bills are paid as if they were one. Above-cap amounts of other
//     bills are not paid and do not move the position.
//  4. Annual cap: the bill's version's AnnualCapFen minus what the year has already paid. In a
//     straddled year the earlier bills are held to the older version's cap while the later bills
//     may take the year up to the newer one.
//
// Ladder boundaries must ascend and ladder ratios must not fall, so that a larger cost is never
// paid less.
//
// # Rounding
//
// There is one rounding rule, model.MulBP (half up to the fen): every ratio is applied to one
// amount and rounded once, and sums are taken of rounded amounts. Each bill's ratio part is one
// rounding; each ladder segment piece of a bill is one rounding. A consequence worth knowing:
// splitting one amount over several bills gives exactly the same result when every split falls
// on a ladder boundary, and otherwise may differ by at most 1 fen per split that falls inside a
// segment (two half-fen roundings instead of one). Likewise, raising an earlier major-disease
// bill moves the ladder pieces of the year's later major-disease bills, which can lose a fen of
// rounding each: the total never falls by more than 1 fen per later major-disease bill, and never
// falls at all when amounts and ratios multiply out exactly (whole-yuan amounts with
// whole-percent ratios, as in the shipped policy). The alternative, rounding the year's
// cumulative ladder amount once, would break the rule that each ratio is applied and rounded
// once per amount shown to the worker.
package policy
