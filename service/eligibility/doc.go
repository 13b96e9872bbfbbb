// Package eligibility decides whether a worker is covered by the 在职职工医疗互助保障计划 on a given
// day, and where the plan's payouts would go. It is pure: Decide takes the facts and the date and
// touches no database, cache, network or clock, so the roster (FactsOf) and the bot's dialogue
// (facts from the worker's answers, some of them unknown) share one set of rules.
//
// # Rules
//
// The seeds are the plan's published rules (the sources listed in docs/domain.md: 004 = the
// plan's own text 《在职职工医疗互助保障计划》, 000 and 001 = summaries and a 工人日报 report).
// Where they are silent the rule below says "assumed".
//
//   - Who: in-service workers (在职职工) of employers in Beijing (004 二(一)1). Retired workers and
//     workers who left their employer are not covered.
//   - Insurance: the worker is in Beijing basic medical insurance (004 二(一)2), or is a rural
//     worker in 新农合, covered from 2013-05-01 on (000: 自2013年5月起纳入保障范围; 001: 将参加
//     新农合的在职职工纳入保障范围). A rural worker (Kind rural) is judged by that date alone, whatever
//     InsuredBeijing says. When Kind is unknown it is asked only if the answer would change the
//     outcome (for example a worker in Beijing insurance on a date after 2013-05-01 is covered
//     either way).
//   - How: free participation needs union membership and an employer that pays union dues to 市总
//     (上解工会经费, 004 二(二)2; 000: 单位向市总工会上缴工会经费的工会会员). Without that a worker can
//     join by paying (缴费参保), individually or collectively (000: 未建立工会组织的职工(可集体参保)).
//     Paid participation does not need union membership (assumed from 004 and 000: membership is
//     listed only among the conditions of free participation). Paid participation covers up to and
//     including PaidUntil. A worker who qualifies both ways is reported as paid_participation while
//     the payment runs and as free_participation after it lapses (assumed).
//   - Payouts: free participants are paid to their 京卡·互助服务卡 (004 二(二)3). A member who has
//     no card three months after joining the union may be paid to a card of one of five banks
//     (中行、农行、建行、工行、北京银行) registered with the grassroots union (004 二(二)3, note).
//     "Three months" ends on JoinedOn.AddDate(0, 3, 0): that day is the first day a bank card may
//     be used, the day before it is still inside the three months. AddDate normalizes overflowing
//     month ends (2024-11-30 + 3 months = 2025-03-02). A member whose JoinedOn is unknown is asked
//     to apply for a card. Paid participants without a 京卡 are paid to a registered bank card
//     from the start: the plan's form for paid participants (缴费人员领取互助金申请表, 004) asks for
//     a 银行卡号 and 开户银行 instead of a 京卡.
//
// # Unknown facts
//
// A fact is unknown when its Tri is Unknown or its enum is empty (or not a known value). A known
// disqualifier wins: a retired worker is not_eligible however much else is unknown. Otherwise, if
// a fact that could change the outcome is unknown, the Decision is StatusUnknown and Missing lists
// those facts in the order the bot should ask them (see the Fact… constants). Participation is
// not asked: an empty Participation means the worker has no paid participation.
package eligibility
