package store

import "testing"

func TestSQLHeadDropsValues(t *testing.T) {
	got := sqlHead("SELECT * FROM `members` WHERE id_number_hash = 'abc123'")
	if got != "SELECT * FROM `members`" {
		t.Errorf("sqlHead = %q", got)
	}
	got = sqlHead("INSERT INTO `members` (`name`) VALUES ('张三')")
	if got != "INSERT INTO `members` (`name`)" {
		t.Errorf("sqlHead = %q", got)
	}
}
