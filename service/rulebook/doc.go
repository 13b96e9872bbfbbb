// Package rulebook keeps what staff change of the plan's rules in the console: policy versions
// and the bot's knowledge-base entries, laid over the files the binary ships (config/policy.yaml,
// config/faq.yaml), and puts a change to work in the running process without a restart.
//
// # One way of loading
//
// LoadEngine and LoadKB are how every process reads the rules at start: the shipped file, then
// the rows staff saved (model.PolicyVersion, model.FAQEntry), checked as a whole exactly as the
// shipped file is checked. A row that no longer fits (a release changed the shipped file under
// it) stops the process at start with an error naming it, rather than paying or answering wrongly.
//
// # Swaps
//
// A process has one policy.Engine and one bot.KB, shared by everything that computes or answers
// (settlement, estimates, the bot, the console). A save checks the change against everything
// else, commits it with its audit row and only then swaps the new content into the shared
// Engine and KB: a computation or answer already under way finishes with the old content, the
// next one uses the new, none mixes the two. A save reads the other saved rows afresh, so a
// process catches up with changes made elsewhere when it saves; otherwise other processes (a
// second server, `huzhu worker`) see a change when they restart. Saves of one process take turns.
//
// # Rules
//
// Policy versions are only ever added, after today (Asia/Shanghai) and after every existing
// version: approved runs were paid under the versions then in force, and a re-run must give the
// same lines, so the past is never rewritten. Because a new version starts in the future, swapping
// it in changes no amount already computable. A new version must also leave every answer of the
// knowledge base within WeChat's reply limit.
//
// Knowledge-base entries are edited whole, added, retired (kept, so they can be enabled again)
// or reverted to the shipped text. The entries the bot itself answers with (bot.Required) cannot
// be retired. An edit carries the revision it was made from and is refused when someone saved
// the entry meanwhile.
//
// Only staff who may staff.EditFAQ or staff.EditPolicy (市总 admins) change anything; every
// change writes the audit log in its transaction.
package rulebook
