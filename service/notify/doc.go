// Package notify delivers arrival notices from the outbox table (model.Notification) to workers:
// official-account template messages, mini-program subscribe messages, and SMS as the fallback.
//
// Rows are written by the code that changes a payout's state, in the same transaction, through
// Enqueue. A Dispatcher claims due rows with a lease (and SELECT … FOR UPDATE SKIP LOCKED on
// MySQL), so any number of dispatchers in any number of processes can run; a dispatcher that dies
// mid-batch leaves leased rows that another one reclaims when the lease expires.
//
// The official-account channel reaches a worker only when the follower is linked to their
// binding: WeChat's subscribe push carries the openid alone, and the link is the unionid that
// cgi-bin/user/info returns when — and only when — the official account and the mini-program are
// bound to the same WeChat Open Platform account. Bind both apps to one Open Platform account
// before going live; member.Followers does the linking (on subscribe, on an unknown follower's
// first message, and in `huzhu wechat backfill-followers`), and Reach shows how many bound
// workers each channel reaches.
//
// One notice (subject, kind) is one row on one channel at a time. The row starts on the
// official-account channel; when a channel cannot be used (the worker does not follow the account,
// has not accepted the subscribe template, opted out of SMS) or WeChat refuses it permanently for
// this user (43004, 43101, 40003), the row is marked skipped and a row for the next usable channel
// is added in the same transaction. Each channel row has its own DedupKey
// "<subject>:<kind>:<channel>", which is also the client_msg_id of template messages.
//
// What "exactly once" means here:
//   - Queueing is exactly once: DedupKey is unique, and Enqueue ignores a second insert.
//   - Official-account template messages carry client_msg_id = DedupKey. WeChat sends one
//     message per openid and client_msg_id within 10 minutes ("10分钟有效，超过10分钟不保证效果"),
//     so a resend inside that window cannot make a second copy. A send whose outcome is unknown
//     (a timeout, a connection broken after the request went out, a dispatcher that died holding
//     the row) records UnsureSince, the earliest moment WeChat may have accepted it (for a
//     reclaimed lease: when the dead dispatcher claimed the row). Its retries come before every
//     fresh notice in the claim order, ignore quiet hours and RetryAfter (a 45009 quota answer
//     holds fresh rows an hour), and wait 2 s, 4 s, 8 s… at most a minute, never past
//     UnsureSince + 10 min − SendTimeout − 30 s (Options.DedupWindow).
//   - The rule beyond the window, chosen for the worker: a template row whose outcome is still
//     unknown when the window closes is neither sent again (a second "互助金已到账" could read as
//     a second payment and be doubted) nor dropped silently (the worker might never hear of the
//     money). It ends as failed with the reason in last_error, in the console's failed list,
//     where staff check and retry it. WeChat's TEMPLATESENDJOBFINISH receipt settles what it
//     can: "success" with an unknown msgid for the follower's one row failed this way marks it
//     sent (it leaves the failed list by itself); a failure receipt ("failed:user block", "failed: system failed")
//     for a sent row turns it failed and queues the next channel, since the worker did not get it.
//   - Mini-program subscribe messages and SMS have no de-duplication id. A send whose outcome is
//     unknown (lease expired while sending, connection broken after the request went out, timeout)
//     is retried at most once on those channels; a second unknown outcome ends the row as failed
//     for staff to look at. So a person may get two copies in that narrow case, never more, and
//     never zero without a failed row in the console.
//   - Errors WeChat returns in its response (busy, quota, bad data) are definite: nothing was sent,
//     and the retry cannot duplicate.
//
// Throughput: Run keeps up to Options.Concurrency sends in flight (by default the rate limit per
// second) and claims rows as sends finish, so an answer WeChat takes 8 s to give holds one send,
// not a batch; the shared rate limit (RatePerSecond, in Redis) caps the sum over dispatchers.
//
// Quiet hours (default 22:00–08:00 Asia/Shanghai) hold non-urgent rows until they end, except
// the retries of an unknown outcome (above), which cannot wait past WeChat's window. None of
// the three notice kinds is urgent by default: a failed transfer is fixed by the grassroots union
// during office hours, so waking the worker at night helps no one. Urgent is a per-row flag for
// callers that need it.
package notify
