//! The diesel schema, written by hand for both backends (see `migrations/`).

diesel::table! {
    raw_mails (id) {
        id -> BigInt,
        source -> Text,
        uidvalidity -> Nullable<BigInt>,
        uid -> Nullable<BigInt>,
        message_id -> Nullable<Text>,
        sha256 -> Text,
        received_at -> Timestamp,
        state -> Text,
        error -> Nullable<Text>,
        ticket_id -> Nullable<BigInt>,
        fingerprint -> Nullable<Text>,
    }
}

diesel::table! {
    tickets (id) {
        id -> BigInt,
        number -> BigInt,
        subject -> Text,
        status -> Text,
        close_reason -> Nullable<Text>,
        ticket_type -> Text,
        impact -> Nullable<Text>,
        category -> Nullable<Text>,
        organisation -> Nullable<Text>,
        requester_email -> Text,
        requester_name -> Nullable<Text>,
        language -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        solved_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        reminded_at -> Nullable<Timestamp>,
        first_answer_due -> Nullable<Timestamp>,
        resolution_due -> Nullable<Timestamp>,
        first_answered_at -> Nullable<Timestamp>,
        first_answer_told -> Nullable<Text>,
        resolution_told -> Nullable<Text>,
        queue -> Nullable<Text>,
        assignee_email -> Nullable<Text>,
        assignee_name -> Nullable<Text>,
        requester_phone -> Nullable<Text>,
        channel -> Text,
        opened_by -> Nullable<Text>,
        reopened -> Integer,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        ticket_id -> BigInt,
        raw_mail_id -> Nullable<BigInt>,
        kind -> Text,
        from_email -> Text,
        from_name -> Nullable<Text>,
        at -> Timestamp,
        body -> Text,
        message_id -> Nullable<Text>,
    }
}

diesel::table! {
    blobs (sha256) {
        sha256 -> Text,
        size -> BigInt,
        content -> Binary,
    }
}

diesel::table! {
    attachments (id) {
        id -> BigInt,
        message_id -> BigInt,
        position -> Integer,
        filename -> Text,
        content_type -> Text,
        size -> BigInt,
        sha256 -> Text,
    }
}

diesel::table! {
    watchers (ticket_id, email) {
        ticket_id -> BigInt,
        email -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    participants (ticket_id, email) {
        ticket_id -> BigInt,
        email -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    agents (email) {
        email -> Text,
        name -> Nullable<Text>,
        added_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        ticket_id -> Nullable<BigInt>,
        kind -> Text,
        message_id -> Text,
        sender -> Text,
        recipients -> Text,
        subject -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
    }
}

diesel::table! {
    mailbox_cursors (mailbox) {
        mailbox -> Text,
        uidvalidity -> BigInt,
        last_uid -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> BigInt,
    }
}

// The bytes of a received mail and of an outgoing one, apart from the
// rows whose state changes (migration 000015).
diesel::table! {
    raw_mail_bodies (raw_mail_id) {
        raw_mail_id -> BigInt,
        raw -> Binary,
    }
}

diesel::table! {
    outbox_bodies (outbox_id) {
        outbox_id -> BigInt,
        raw -> Binary,
    }
}

diesel::table! {
    outbox_files (outbox_id, position) {
        outbox_id -> BigInt,
        position -> Integer,
        at -> BigInt,
        sha256 -> Text,
    }
}

diesel::joinable!(raw_mail_bodies -> raw_mails (raw_mail_id));
diesel::joinable!(outbox_bodies -> outbox (outbox_id));
diesel::joinable!(outbox_files -> outbox (outbox_id));
diesel::joinable!(outbox_files -> blobs (sha256));
diesel::joinable!(messages -> tickets (ticket_id));
diesel::joinable!(attachments -> messages (message_id));
diesel::joinable!(watchers -> tickets (ticket_id));
diesel::joinable!(participants -> tickets (ticket_id));

diesel::allow_tables_to_appear_in_same_query!(
    raw_mails,
    tickets,
    messages,
    blobs,
    attachments,
    watchers,
    participants,
    agents,
    outbox,
    mailbox_cursors,
    counters,
    raw_mail_bodies,
    outbox_bodies,
    outbox_files,
);

diesel::table! {
    undeliverable (email) {
        email -> Text,
        reason -> Text,
        since -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(undeliverable, outbox);

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    relay_holds (relay) {
        relay -> Text,
        held_until -> Timestamp,
        failures -> Integer,
        reason -> Text,
        since -> Timestamp,
    }
}

diesel::table! {
    health (component) {
        component -> Text,
        ok_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        alerted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    oauth_tokens (service) {
        service -> Text,
        account -> Text,
        scopes -> Text,
        access_token -> Text,
        access_expires_at -> Nullable<Timestamp>,
        refresh_token -> Nullable<Text>,
        refresh_expires_at -> Nullable<Timestamp>,
        obtained_at -> Timestamp,
        refreshed_at -> Nullable<Timestamp>,
    }
}
