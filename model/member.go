package model

import "time"

// Union is a grassroots union (基层工会), usually one per employer.
type Union struct {
	ID        uint64 `gorm:"primaryKey"`
	Code      string `gorm:"size:32;not null;uniqueIndex"` // 工会编码, the natural key in roster files
	Name      string `gorm:"size:128;not null"`
	District  string `gorm:"size:32"`
	PaysDues  bool   `gorm:"not null;default:true"` // the employer pays union dues to 市总 (上解经费)
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Member is a covered worker. Personal numbers are stored encrypted (…Enc), with an HMAC lookup
// hash (…Hash) and the last four characters (…Last4) for masked display.
type Member struct {
	ID      uint64 `gorm:"primaryKey"`
	UnionID uint64 `gorm:"not null;index"`
	Name    string `gorm:"size:64;not null;index:idx_member_name"` // staff search by name prefix

	IDNumberEnc  []byte `gorm:"not null"`
	IDNumberHash string `gorm:"size:64;not null;uniqueIndex"`              // natural key of roster imports
	IDLast4      string `gorm:"size:4;not null;index:idx_member_id_last4"` // staff search by 尾号
	BirthDate    Date   `gorm:"size:10"`
	Gender       string `gorm:"size:1"` // M or F, from the ID number

	SocialCardEnc   []byte
	SocialCardHash  string `gorm:"size:64;index"` // links 医保 records to the member
	SocialCardLast4 string `gorm:"size:4;index:idx_member_social_last4"`

	JingCardEnc      []byte
	JingCardHash     string `gorm:"size:64;index"`
	JingCardLast4    string `gorm:"size:4;index:idx_member_jing_last4"`
	JingCardIssuedOn Date   `gorm:"size:10"`

	BankCode         Bank `gorm:"size:8"` // five-bank fallback for members without a 京卡
	BankAccountEnc   []byte
	BankAccountHash  string `gorm:"size:64;index"`
	BankAccountLast4 string `gorm:"size:4;index:idx_member_bank_last4"`

	PhoneEnc   []byte
	PhoneHash  string `gorm:"size:64;index"`
	PhoneLast4 string `gorm:"size:4"`

	InsuredBeijing bool             `gorm:"not null;default:true"` // in Beijing basic medical insurance
	Employment     EmploymentStatus `gorm:"size:16;not null;default:in_service"`
	Kind           WorkerKind       `gorm:"size:8;not null;default:urban"`
	Participation  Participation    `gorm:"size:16;not null;default:free"`
	PaidUntil      Date             `gorm:"size:10"` // last day covered by paid participation
	JoinedOn       Date             `gorm:"size:10"` // union membership start

	Hardship      bool `gorm:"not null;default:false"` // 困难职工
	HardshipFrom  Date `gorm:"size:10"`
	HardshipUntil Date `gorm:"size:10"`
	ModelWorker   bool `gorm:"not null;default:false"` // 劳模
	ModelFrom     Date `gorm:"size:10"`
	ModelUntil    Date `gorm:"size:10"`
	ImportBatchID uint64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// WeChatAccount is a WeChat user known to huzhu: a mini-program openid, optionally the
// official-account openid of the same person (linked by unionid), and the member they bound.
type WeChatAccount struct {
	ID            uint64  `gorm:"primaryKey"`
	MPOpenID      *string `gorm:"size:64;uniqueIndex"` // mini-program openid
	OAOpenID      *string `gorm:"size:64;uniqueIndex"` // official-account openid
	UnionID       *string `gorm:"size:64;uniqueIndex"`
	MemberID      *uint64 `gorm:"uniqueIndex"` // one member ↔ one WeChat account
	BoundAt       *time.Time
	Following     bool `gorm:"not null;default:false"` // follows the official account
	FollowedAt    *time.Time
	UnfollowedAt  *time.Time
	SMSOptOut     bool   `gorm:"not null;default:false"`
	Subscriptions string `gorm:"size:512"` // mini-program subscribe template ids the worker accepted, comma separated
	CreatedAt     time.Time
	UpdatedAt     time.Time
}
