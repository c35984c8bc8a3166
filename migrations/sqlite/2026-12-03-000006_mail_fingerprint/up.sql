-- What a mail says, apart from how it travelled: a hash of its sender's
-- address, its text and its attachments. A Message-ID seen before makes a
-- mail a duplicate only when this agrees too: anybody can send a mail
-- with the Message-ID another mail will carry. NULL for mails stored
-- before it existed (they keep the Message-ID rule).
ALTER TABLE raw_mails ADD COLUMN fingerprint TEXT;
