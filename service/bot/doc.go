// Package bot is the official-account assistant: it answers workers' Chinese questions about the
// medical mutual-aid plan from a knowledge base (config/faq.yaml), runs a short eligibility
// dialogue, and answers bound workers' personal questions from their own payout lines.
//
// Retrieval follows the measured findings in docs/bot-retrieval.md: BM25F over single
// CJK characters (digit and ASCII runs whole) on two fields, the question with its similar
// phrasings at weight 1.0 and the answer at 0.5, and a confidence that is the share of the
// query's IDF weight the best entry covers, mixed with the share of its adjacent character pairs
// the entry has. Before that, a question is read the way workers type (lexicon.go): homophone
// slips are corrected by their fuzzy pinyin to a phrase the knowledge base uses ("保销" → "报销",
// "农名工" → "农民工"; a slip a phrasing has on purpose stays a slip, and a curated phrase is never
// rewritten), the lexicon of faq.yaml rewrites spoken words to the knowledge base's own ("老家医保"
// → "外地参保"), and lexicon terms and domain words add whole-word terms. Phrasings are read the
// same way when indexed. Results rank by confidence plus half the score share plus the share of
// the question's runs of three characters one of the entry's phrasings has; the best entry is
// answered at the Answer threshold, or below it when it clearly leads the second, and a "您是不是
// 想问" menu is shown only when the two are close. A story (24+ characters) that is not answered
// whole is answered from its last clause that asks something, when the whole story ranks that
// clause's entry in its best eight.
//
// Rules beside the ranking (faq.go, intent.go): the question's cues of whose money it is about
// move the personal entries up for the asker's own payments and down for general questions and
// for whether-questions (我能不能报), and someone else's payment (我老婆的…到了没, 帮我查班组的…)
// is declined; a redirect entry (基本医保, 公积金…) is answered only when the question says one
// of its needs words ("报销比例是多少" is the plan's ratio); a word of a topic the plan does not
// answer (faq.yaml's offtopic: 落户, 加班费, 挂号… about 450), found in the question as typed or
// as read, declines unless the question names the plan itself (二次报销, 互助金), and so does a
// question the relevance model (relevance.go, trained on the phrasings against faq.yaml's
// offtopic_examples) reads as off-topic when retrieval is not sure of it. A pinned table
// of exact texts (menu numbers, 人工, 电话, greetings) is checked first. Below the confidence
// threshold the bot says it is not sure, offers the closest questions and the 12351 hotline, and
// never makes an answer up.
//
// Answers cite the plan's figures through placeholders ({cap}, {bonus}, {ratio_outpatient}…)
// filled from the policy version in force on the day of the question, so a policy change
// changes the answers without editing the knowledge base.
//
// Staff edit the knowledge base in the console (service/rulebook keeps the edits): a Source is
// the shipped file with the edits laid over it (Override, stored per entry), and Build checks it
// exactly as the shipped file is checked. A KB is shared by the bot and the console of a process;
// an edit is swapped in whole (KB.Swap), and the bot answers each message from one Snapshot, so an
// answer never mixes two versions of the knowledge base.
//
// The retrieval and dialogue code (text.go, index.go, faq.go, override.go, dialogue.go) is pure.
// Bot adds the state kept in the kv store (conversations, de-duplication of WeChat's retries) and
// the database reads of store.go.
package bot
