// Package staff is the console's side of people: staff accounts with bcrypt-hashed passwords
// that must pass the ASVS-style rules of checkPassword, login throttled per (username, IP) with
// growing waits and one answer for every failure, a TOTP second factor with recovery codes,
// sessions kept in the kv store with a CSRF token each (ended when the password or the second
// factor changes), the actors the command line acts as (--as, --break-glass), and the few
// staff-only reads over members and the audit log. The rules of who may do what are
// model.Role.Can's. Every change writes the audit log in the change's transaction.
package staff
