// Package staff is the console's side of people: staff accounts with bcrypt-hashed passwords,
// login with a rate limit and a lock-out, sessions kept in the kv store with a CSRF token each,
// the role rules of the console, and the few staff-only reads over members and the audit log.
// Every change writes the audit log in the change's transaction.
package staff
