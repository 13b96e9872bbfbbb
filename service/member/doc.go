// Package member is the worker's side of the roster: mini-program login (wx.login code →
// WeChat account → huzhu session token), binding the account to the member whose card matches,
// the masked profile, unbinding, eligibility today, and notice preferences.
//
// # Binding without an oracle
//
// Bind compares the name, ID number, card number (京卡, or the social-security card for members
// paid to a bank card) and phone a worker types with the roster through the HMAC lookup hashes,
// never decrypting anything. Every mismatch, whatever field differs and whether or not the ID
// number is on the roster, gets the same NotFound error binding.no_match with the same message.
// Failed attempts are counted in kv per WeChat account, per client IP and per typed ID number
// (hashed), each in a fixed window; past the limit further attempts are refused with TooMany
// binding.locked until the window ends, whatever they contain. Every attempt writes an audit
// row (outcome ok, failed, denied or invalid) that names the account and, on success, the
// member, never the numbers. An optional SMS code sent to the roster phone (Sender) proves the
// worker holds that phone.
package member
