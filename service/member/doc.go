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
// Failed attempts are counted in kv per WeChat account with the typed ID number (hashed), per
// account whatever the ID number, and per client IP, each in a fixed window; past a limit
// further attempts from that account or address are refused with TooMany binding.locked,
// saying how long to wait, until the window ends or staff lift the lock (LiftLock). Nothing
// counts per ID number alone, so a stranger typing a worker's ID number locks only themselves.
// Every attempt writes an audit row (outcome ok, failed, denied or invalid) that names the
// account and, on success, the member, never the numbers.
//
// # Proof of possession
//
// The typed facts are printed in every roster and bank file, so they identify the member but
// prove nothing. Bind also needs proof that the roster phone is the worker's (Options.Proof):
// the code of the mini-program's phone-number button, which WeChat exchanges for the verified
// number (compared with the roster phone by its lookup hash), or an SMS code sent to the roster
// phone. A verified phone that differs, or a roster without a phone, is answered with a stable
// code sending the worker to their union, where staff check the papers in person and bind the
// member to the account whose desk code the worker shows (StaffBind). A worker with the proof
// takes a member back from another account (BindRequest.TakeBack); that account is unbound and
// told at its next login (Login.Notice).
package member
