package member

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"huzhu/model"
)

// upsertAccount returns the account of a mini-program user, created on first login. The unionid
// links it to the official-account row of the same person when the bot saw them first: the
// mini-program openid is then added to that row, or the two rows are merged.
func (s *Service) upsertAccount(ctx context.Context, openID, unionID string) (model.WeChatAccount, error) {
	var acct model.WeChatAccount
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		found, err := takeAccount(tx, "mp_open_id = ?", openID, &acct)
		if err != nil {
			return err
		}
		var byUnion model.WeChatAccount
		hasUnion := false
		if unionID != "" && (!found || acct.UnionID == nil || *acct.UnionID != unionID) {
			if hasUnion, err = takeAccount(tx, "union_id = ?", unionID, &byUnion); err != nil {
				return err
			}
		}
		switch {
		case found && hasUnion && byUnion.ID != acct.ID:
			return s.merge(tx, &acct, byUnion)
		case found && unionID != "" && acct.UnionID == nil:
			acct.UnionID = &unionID
			return tx.Model(&acct).Update("union_id", unionID).Error
		case found:
			return nil
		case hasUnion && byUnion.MPOpenID == nil:
			acct = byUnion
			acct.MPOpenID = &openID
			return tx.Model(&acct).Update("mp_open_id", openID).Error
		}
		acct = model.WeChatAccount{MPOpenID: &openID}
		if unionID != "" && !hasUnion {
			acct.UnionID = &unionID
		}
		return tx.Create(&acct).Error
	})
	return acct, err
}

func takeAccount(tx *gorm.DB, where string, v string, into *model.WeChatAccount) (bool, error) {
	err := tx.Where(where, v).Take(into).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	return err == nil, err
}

// merge folds the official-account row other into the mini-program row acct (same unionid): the
// official-account openid, following state and, when acct has none, the bound member move over
// and other is deleted. Two rows bound to different members are left apart (staff sort that
// out), and acct then keeps no unionid.
func (s *Service) merge(tx *gorm.DB, acct *model.WeChatAccount, other model.WeChatAccount) error {
	if acct.MemberID != nil && other.MemberID != nil && *acct.MemberID != *other.MemberID {
		s.log.Warn("wechat accounts share a unionid but are bound to different members", "account_id", acct.ID, "other_account_id", other.ID)
		return nil
	}
	if other.MPOpenID != nil {
		// Another mini-program openid with the same unionid cannot happen within one app; leave it.
		return nil
	}
	if acct.MemberID == nil {
		acct.MemberID, acct.BoundAt = other.MemberID, other.BoundAt
	}
	acct.OAOpenID, acct.UnionID = other.OAOpenID, other.UnionID
	acct.Following, acct.FollowedAt, acct.UnfollowedAt = other.Following, other.FollowedAt, other.UnfollowedAt
	acct.SMSOptOut = acct.SMSOptOut || other.SMSOptOut
	if err := tx.Delete(&model.WeChatAccount{}, other.ID).Error; err != nil {
		return err
	}
	return tx.Select("*").Omit("created_at").Save(acct).Error
}
