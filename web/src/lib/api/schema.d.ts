// Generated from Studio's OpenAPI document by scripts/api.mjs (npm run api). Do not edit.

export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Healthz */
        get: operations["healthz_healthz_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Metrics
         * @description Aggregates only (counts, ages, durations, ratios): no user's data, no query text.
         *     The database part comes from one call of public.metrics_snapshot() in an anon
         *     scope; if the database cannot answer, the rest is still reported with
         *     studio_database_up 0.
         */
        get: operations["metrics_metrics_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openai/v1/audio/speech": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Speech
         * @description Speech from text, the file itself. Also kept in the user's gallery.
         */
        post: operations["speech_openai_v1_audio_speech_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openai/v1/audio/transcriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Transcriptions
         * @description Speech to text in Whisper's shape: multipart `file`, `model` (a slug with the
         *     transcription capability), optional `language`, `prompt`, `response_format`
         *     (json, text, verbose_json), `temperature`. Like POST /v1/transcriptions: the
         *     chat rate limit, nothing stored.
         */
        post: operations["transcriptions_openai_v1_audio_transcriptions_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openai/v1/chat/completions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Chat Completions
         * @description Chat completions, streamed (`stream: true`, server-sent events ending in `[DONE]`,
         *     usage last with `stream_options.include_usage`) or not. Images as data-URL parts for
         *     vision models. Usage is recorded like the chat's.
         */
        post: operations["chat_completions_openai_v1_chat_completions_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openai/v1/images/generations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Images
         * @description Images from a prompt, as `b64_json` (the default) or as a `url` of Studio's own
         *     (GET with the same API key). Each image is a generation in the user's gallery.
         */
        post: operations["images_openai_v1_images_generations_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openai/v1/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Models
         * @description The models the caller can use now: `id` is the Studio slug to send as `model`.
         */
        get: operations["models_openai_v1_models_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readyz */
        get: operations["readyz_readyz_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/s/{slug}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * View Share
         * @description The shared item: an HTML page, or JSON with `?format=json` or `Accept:
         *     application/json`. An unknown, expired or revoked link is a 404: a page saying so
         *     for a browser, the usual error JSON for a JSON client.
         */
        get: operations["view_share_s__slug__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/s/{slug}/media/{media_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Shared Media */
        get: operations["shared_media_s__slug__media__media_id__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/connection-kinds": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Connection Kinds
         * @description The kinds of connection Studio speaks, each with its default base URL and whether it needs a key.
         */
        get: operations["connection_kinds_v1_admin_connection_kinds_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/connections": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Connections */
        get: operations["list_connections_v1_admin_connections_get"];
        put?: never;
        /**
         * Create Connection
         * @description Adds a connection. Its API key is stored encrypted and never returned: responses
         *     show its last 4 characters. Every API and worker process uses it within seconds.
         */
        post: operations["create_connection_v1_admin_connections_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/connections/{connection_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Connection */
        get: operations["get_connection_v1_admin_connections__connection_id__get"];
        put?: never;
        post?: never;
        /**
         * Delete Connection
         * @description Removes a connection and the models registered on it (past generations and
         *     messages stay, without a model).
         */
        delete: operations["delete_connection_v1_admin_connections__connection_id__delete"];
        options?: never;
        head?: never;
        /**
         * Update Connection
         * @description Changes a connection; `api_key`: a new key replaces the stored one, null removes
         *     it, leaving it out keeps it. `enabled: false` stops its models at once, everywhere.
         */
        patch: operations["update_connection_v1_admin_connections__connection_id__patch"];
        trace?: never;
    };
    "/v1/admin/connections/{connection_id}/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Import Models
         * @description Registers upstream models of the connection in one step (all or none).
         */
        post: operations["import_models_v1_admin_connections__connection_id__models_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/connections/{connection_id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Test Connection
         * @description Asks the connection's server for its models with the stored settings; a failure is
         *     the answer (`ok: false` and why), not an error.
         */
        post: operations["test_connection_v1_admin_connections__connection_id__test_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/connections/{connection_id}/upstream-models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Upstream Models
         * @description What the connection's server offers (OpenAI-style GET /models, Ollama's tags, ...),
         *     each with the types already registered for it.
         */
        get: operations["upstream_models_v1_admin_connections__connection_id__upstream_models_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/connections/suggestions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Connection Suggestions
         * @description Servers found running that no connection points at yet (an Ollama on this machine).
         */
        get: operations["connection_suggestions_v1_admin_connections_suggestions_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Models
         * @description Every registered model, disabled ones too, with its connection and whether it can run.
         */
        get: operations["list_models_v1_admin_models_get"];
        put?: never;
        /** Create Model */
        post: operations["create_model_v1_admin_models_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/models/{model_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete Model */
        delete: operations["delete_model_v1_admin_models__model_id__delete"];
        options?: never;
        head?: never;
        /** Update Model */
        patch: operations["update_model_v1_admin_models__model_id__patch"];
        trace?: never;
    };
    "/v1/admin/ops": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The operations summary (admins only)
         * @description The operations page, read-only, for admins (anyone else gets 404): readiness as
         *     /readyz checks it, the last stored audit result (or how to run `studio audit`), the
         *     latest backup and restore drill, the queue per job kind (depth, due, running, the
         *     oldest due job's wait), and this API process's database pool. Counts, states and
         *     operational records only: no user's content, no emails.
         */
        get: operations["ops_summary_v1_admin_ops_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/statements": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Top Statements
         * @description The statements Studio's roles ran in this database, heaviest first, as
         *     pg_stat_statements normalized them (constants replaced by $1, $2, ...; any literal
         *     left, as in utility statements, shown as ?). Admins only:
         *     anyone else gets 404, whatever the parameters, as if it did not exist.
         */
        get: operations["top_statements_v1_admin_statements_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Api Keys */
        get: operations["list_api_keys_v1_api_keys_get"];
        put?: never;
        /**
         * Create Api Key
         * @description A new API key. The answer holds its secret, shown this once and never stored by a
         *     cache (Cache-Control: no-store); `expires_at`, if given, must be in the future.
         */
        post: operations["create_api_key_v1_api_keys_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/api-keys/{key_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke Api Key */
        delete: operations["revoke_api_key_v1_api_keys__key_id__delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Login
         * @description A session (cookie) and its CSRF token. With two-factor authentication on, the
         *     same request also carries `totp_code` (or `recovery_code`); without it the answer is
         *     401 second_factor_required, and the client asks for the code and sends all again.
         */
        post: operations["login_v1_auth_login_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Logout */
        post: operations["logout_v1_auth_logout_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/signup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Signup
         * @description Creates an account, then log in with the same email and password. The answer is
         *     the same whether or not the email had an account (status, body, headers, and the
         *     same work, argon2 included): an email with an account gets no new one, and its owner
         *     a notification instead.
         */
        post: operations["signup_v1_auth_signup_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/conversations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Conversations
         * @description The caller's conversations, newest first, in keyset pages (`next_cursor`); with
         *     `q`, only those whose title contains it (case-insensitive).
         */
        get: operations["list_conversations_v1_conversations_get"];
        put?: never;
        /** Create Conversation */
        post: operations["create_conversation_v1_conversations_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/conversations/{conversation_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Conversation */
        get: operations["get_conversation_v1_conversations__conversation_id__get"];
        put?: never;
        post?: never;
        /** Delete Conversation */
        delete: operations["delete_conversation_v1_conversations__conversation_id__delete"];
        options?: never;
        head?: never;
        /** Update Conversation */
        patch: operations["update_conversation_v1_conversations__conversation_id__patch"];
        trace?: never;
    };
    "/v1/conversations/{conversation_id}/messages": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Messages */
        get: operations["list_messages_v1_conversations__conversation_id__messages_get"];
        put?: never;
        /** Add Message */
        post: operations["add_message_v1_conversations__conversation_id__messages_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/conversations/{conversation_id}/messages/{message_id}/answers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Regenerate an answer to a user message
         * @description Regenerate: a new answer to an existing user message, streamed exactly like
         *     `POST .../messages` with `generate: true`, and stored as another child of that
         *     message (a sibling of its earlier answers, which stay). The body is optional.
         */
        post: operations["answer_again_v1_conversations__conversation_id__messages__message_id__answers_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/conversations/search": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Search
         * @description Full-text search over the caller's conversations and messages (PostgreSQL, indexed),
         *     newest first, in keyset pages.
         */
        get: operations["search_v1_conversations_search_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/datasets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Datasets */
        get: operations["list_datasets_v1_datasets_get"];
        put?: never;
        /** Create Dataset */
        post: operations["create_dataset_v1_datasets_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/datasets/{dataset_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Dataset */
        get: operations["get_dataset_v1_datasets__dataset_id__get"];
        put?: never;
        post?: never;
        /**
         * Delete Dataset
         * @description Deletes the dataset, its images and their files. Finished training runs keep their
         *     history and trained models.
         */
        delete: operations["delete_dataset_v1_datasets__dataset_id__delete"];
        options?: never;
        head?: never;
        /**
         * Update Dataset
         * @description Renames it or changes its description (the fields given; `description: null`
         *     clears it).
         */
        patch: operations["update_dataset_v1_datasets__dataset_id__patch"];
        trace?: never;
    };
    "/v1/datasets/{dataset_id}/captions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Update Captions
         * @description Sets many captions in one transaction: all of them, or none when any image is not
         *     in the dataset (404).
         */
        put: operations["update_captions_v1_datasets__dataset_id__captions_put"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/datasets/{dataset_id}/images": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Images
         * @description In upload order.
         */
        get: operations["list_images_v1_datasets__dataset_id__images_get"];
        put?: never;
        /**
         * Upload Image
         * @description The body is the image itself (Content-Type image/png, image/jpeg or image/webp),
         *     streamed to storage. The same file uploaded again answers 200 with the image the
         *     dataset already has and `duplicate: true`.
         */
        post: operations["upload_image_v1_datasets__dataset_id__images_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/datasets/{dataset_id}/images/{image_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete Image */
        delete: operations["delete_image_v1_datasets__dataset_id__images__image_id__delete"];
        options?: never;
        head?: never;
        /** Update Caption */
        patch: operations["update_caption_v1_datasets__dataset_id__images__image_id__patch"];
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * User Events
         * @description Progress of all the caller's generations, from now (or after Last-Event-ID), and
         *     the caller's notifications as they arrive (`event: notification`, without an id).
         */
        get: operations["user_events_v1_events_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/generations": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Generations */
        get: operations["list_generations_v1_generations_get"];
        put?: never;
        /**
         * Create Generation
         * @description Queues a generation (202, `Location` of the new generation). `params` must match
         *     the model's `parameters` schema from GET /v1/models: a wrong or unknown parameter is
         *     a 422 naming it (and, when unknown, the allowed ones).
         */
        post: operations["create_generation_v1_generations_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/generations/{generation_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Generation */
        get: operations["get_generation_v1_generations__generation_id__get"];
        put?: never;
        post?: never;
        /** Delete Generation */
        delete: operations["delete_generation_v1_generations__generation_id__delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/generations/{generation_id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Cancel Generation */
        post: operations["cancel_generation_v1_generations__generation_id__cancel_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/generations/{generation_id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Generation Events
         * @description Progress of one generation; the stream closes after its terminal event.
         */
        get: operations["generation_events_v1_generations__generation_id__events_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Me */
        get: operations["me_v1_me_get"];
        put?: never;
        post?: never;
        /**
         * Delete My Account
         * @description Erases your account: every row and file of yours, your sessions and API keys. Only
         *     an anonymous record that an account was deleted remains. Not reversible.
         */
        delete: operations["delete_my_account_v1_me_delete"];
        options?: never;
        head?: never;
        /**
         * Update Me
         * @description Your profile: the display name (trimmed; null removes it).
         */
        patch: operations["update_me_v1_me_patch"];
        trace?: never;
    };
    "/v1/me/audit-log": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Audit Log
         * @description Your security events, newest first: sign-up, logins (also failed ones), logouts and
         *     ended sessions, password changes, API keys and shares created or revoked, exports,
         *     admin actions on your account.
         */
        get: operations["list_audit_log_v1_me_audit_log_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me/export": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Export My Data
         * @description Every row that belongs to you (JSON) and every file of yours, as a ZIP streamed
         *     while it is written. Recorded in your audit log as data.exported.
         */
        get: operations["export_my_data_v1_me_export_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Change Password
         * @description Sets a new password once the current one is confirmed. Every other session of
         *     yours ends; the one making this request keeps working, and so do your API keys unless
         *     `end_api_keys` is true. Recorded in your audit log as password.changed (and each
         *     revoked key as api_key.revoked).
         */
        post: operations["change_password_v1_me_password_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me/totp": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Totp Status
         * @description Whether your two-factor authentication is on, how many recovery codes are left,
         *     and whether this installation requires it of you (admins, STUDIO_ADMIN_TOTP_REQUIRED).
         */
        get: operations["totp_status_v1_me_totp_get"];
        put?: never;
        /**
         * Begin Totp
         * @description Step 1 of turning two-factor authentication on: a new secret for your
         *     authenticator app (scan `uri` as a QR code, or type `secret`). Nothing changes at
         *     login until step 2 confirms it with a first code. Not cached (Cache-Control: no-store).
         */
        post: operations["begin_totp_v1_me_totp_post"];
        /**
         * Disable Totp
         * @description Turns two-factor authentication off, with your password and a current code (or a
         *     recovery code). Recorded in your audit log as totp.disabled.
         */
        delete: operations["disable_totp_v1_me_totp_delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me/totp/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Confirm Totp
         * @description Step 2: the app's current code turns two-factor authentication on. The answer
         *     holds ten recovery codes, shown this once: each signs in once instead of a code.
         *     Recorded in your audit log as totp.enabled.
         */
        post: operations["confirm_totp_v1_me_totp_confirm_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me/totp/recovery-codes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Replace Recovery Codes
         * @description Ten new recovery codes, with your password and a current code; the old ones stop working.
         */
        post: operations["replace_recovery_codes_v1_me_totp_recovery_codes_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/me/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * My Usage
         * @description Chat answers (tokens, cost) and generations (files, cost), per day and model.
         */
        get: operations["my_usage_v1_me_usage_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/media/{media_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download Media */
        get: operations["download_media_v1_media__media_id__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/media/{media_id}/url": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Media Url
         * @description A short-lived URL for downloading straight from the store (S3), or this API's own
         *     streaming URL where the store has none (local files).
         */
        get: operations["media_url_v1_media__media_id__url_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Models
         * @description The enabled models: whether each can run here (and if not, why), and `parameters`,
         *     the JSON Schema of the `params` POST /v1/generations accepts for it.
         */
        get: operations["list_models_v1_models_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Notifications */
        get: operations["list_notifications_v1_notifications_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/{notification_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete Notification */
        delete: operations["delete_notification_v1_notifications__notification_id__delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/{notification_id}/read": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mark Read */
        post: operations["mark_read_v1_notifications__notification_id__read_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/preferences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Preferences */
        get: operations["get_preferences_v1_notifications_preferences_get"];
        /**
         * Set Preferences
         * @description Replaces the muted kinds; notifications of those kinds are no longer written for
         *     the caller (the ones already there stay).
         */
        put: operations["set_preferences_v1_notifications_preferences_put"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/notifications/read-all": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mark All Read */
        post: operations["mark_all_read_v1_notifications_read_all_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/setup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Setup Admin
         * @description Creates the first admin with the one-time setup link that `studio up` prints while
         *     the installation has no admin, and signs them in: the same answer and session cookie
         *     as POST /v1/auth/login. The link works once.
         */
        post: operations["setup_admin_v1_setup_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/setup/{token}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Check Setup Link
         * @description Can this one-time setup link create the first admin? For the setup page, before it
         *     asks for a password.
         */
        get: operations["check_setup_link_v1_setup__token__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/shares": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List Shares
         * @description The caller's links that are not revoked (expired ones included, with their
         *     `expires_at`), newest first, in keyset pages.
         */
        get: operations["list_shares_v1_shares_get"];
        put?: never;
        /**
         * Create Share
         * @description A link to one of the caller's generations or conversations (exactly one of the
         *     two), lasting until revoked or until `expires_at`; 404 when the target is not theirs.
         */
        post: operations["create_share_v1_shares_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/shares/{share_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke Share */
        delete: operations["revoke_share_v1_shares__share_id__delete"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/trained-models": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Trained Models */
        get: operations["list_trained_models_v1_trained_models_get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/trained-models/{model_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Trained Model */
        get: operations["get_trained_model_v1_trained_models__model_id__get"];
        put?: never;
        post?: never;
        /**
         * Delete Trained Model
         * @description Deletes the model and its weights.
         */
        delete: operations["delete_trained_model_v1_trained_models__model_id__delete"];
        options?: never;
        head?: never;
        /** Rename Trained Model */
        patch: operations["rename_trained_model_v1_trained_models__model_id__patch"];
        trace?: never;
    };
    "/v1/training-jobs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List Training */
        get: operations["list_training_v1_training_jobs_get"];
        put?: never;
        /** Start Training */
        post: operations["start_training_v1_training_jobs_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/training-jobs/{run_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get Training */
        get: operations["get_training_v1_training_jobs__run_id__get"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/training-jobs/{run_id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel Training
         * @description A worker training it stops at its next step.
         */
        post: operations["cancel_training_v1_training_jobs__run_id__cancel_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/transcriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Transcribe
         * @description A multipart form: `file` (the recording), optional `model_id` (default: the first
         *     model with the transcription capability that can run), `language`, `prompt`.
         *     Nothing is stored: not the audio, not the text.
         */
        post: operations["transcribe_v1_transcriptions_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Upload
         * @description The request body is the file itself (Content-Type: its media type), streamed to
         *     storage. The size limit is counted while streaming and the type is checked against
         *     the file's first bytes; nothing is kept when either fails.
         */
        post: operations["upload_v1_uploads_post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/webhooks/{provider}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Receive a signed provider webhook */
        post: operations["receive_webhook_v1_webhooks__provider__post"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** AccountDeletion */
        AccountDeletion: {
            /**
             * Password
             * @description your password, also when you call with an API key
             */
            password: string;
        };
        /** AdminModel */
        AdminModel: {
            /** Available */
            available: boolean;
            /** Capabilities */
            capabilities: string[];
            /** Connection Id */
            connection_id: string | null;
            /** Connection Name */
            connection_name: string | null;
            /** Cost Cents */
            cost_cents: number | null;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Default Params */
            default_params: {
                [key: string]: unknown;
            };
            /** Description */
            description: string | null;
            /** Display Name */
            display_name: string;
            /** Enabled */
            enabled: boolean;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Input Cents Per Mtok */
            input_cents_per_mtok: number | null;
            /** Output Cents Per Mtok */
            output_cents_per_mtok: number | null;
            /** Provider */
            provider: string;
            /** Provider Model */
            provider_model: string;
            /** Slug */
            slug: string;
            /** @description how users train LoRAs for it at its provider */
            training: components["schemas"]["HostedTraining"] | null;
            /**
             * Type
             * @enum {string}
             */
            type: "chat" | "image" | "audio" | "video";
            /** Unavailable Reason */
            unavailable_reason: string | null;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
            /**
             * Use For Titles
             * @description this chat model writes conversations' titles (one model at most)
             */
            use_for_titles: boolean;
            /**
             * Voices
             * @description speech models: the voices it offers (the `voice` parameter then takes only these, and forms show them as a list); empty: any voice the provider knows
             */
            voices: string[];
        };
        /** AdminModelList */
        AdminModelList: {
            /** Items */
            items: components["schemas"]["AdminModel"][];
        };
        /** AnswerCreate */
        AnswerCreate: {
            /**
             * Model Id
             * @description the chat model to answer with; default (omitted, null, or no body at all): the conversation's model
             */
            model_id?: string | null;
        };
        /** ApiKey */
        ApiKey: {
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Expires At */
            expires_at: string | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Last Used At */
            last_used_at: string | null;
            /** Name */
            name: string;
            /** Prefix */
            prefix: string;
        };
        /** ApiKeyCreate */
        ApiKeyCreate: {
            /** Expires At */
            expires_at?: string | null;
            /** Name */
            name: string;
        };
        /** ApiKeyCreated */
        ApiKeyCreated: {
            api_key: components["schemas"]["ApiKey"];
            /**
             * Key
             * @description the secret, shown this once only
             */
            key: string;
        };
        /** ApiKeyPage */
        ApiKeyPage: {
            /** Items */
            items: components["schemas"]["ApiKey"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** Attachment */
        Attachment: {
            /** Content Type */
            content_type: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Url
             * @description GET it with the same credentials
             */
            url: string;
        };
        /** AuditEvent */
        AuditEvent: {
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Details */
            details: {
                [key: string]: unknown;
            };
            /** Event */
            event: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Ip
             * @description the client address the request came from
             */
            ip: string | null;
            /** User Agent */
            user_agent: string | null;
        };
        /** AuditEventPage */
        AuditEventPage: {
            /** Items */
            items: components["schemas"]["AuditEvent"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** AuditFinding */
        AuditFinding: {
            /** Action */
            action: string;
            /** Area */
            area: string;
            /** Detail */
            detail: string;
            /**
             * Id
             * @description the finding, K1-K5 or F1-F24 (docs/operations/audit.md)
             */
            id: string;
            /**
             * Severity
             * @enum {string}
             */
            severity: "critical" | "high" | "medium" | "low";
            /**
             * Status
             * @enum {string}
             */
            status: "warn" | "fail" | "error";
            /** Title */
            title: string;
        };
        /**
         * AuditSummary
         * @description The latest `studio audit` result: every run of `studio audit` on the server stores
         *     its report, and this shows the latest. The API does not run the audit itself: it
         *     needs the database owner's login, which the API does not have, and it calls this API
         *     over HTTP.
         */
        AuditSummary: {
            /** Available */
            available: boolean;
            /**
             * Blocking
             * @description critical findings that failed or could not be checked: K1, K5, F4 (user isolation) first, then F1-F3, F5
             */
            blocking: string[];
            /**
             * Failing
             * @description every check that did not pass, the worst first
             */
            failing: components["schemas"]["AuditFinding"][];
            /**
             * Generated At
             * @description when the audit ran
             */
            generated_at: string | null;
            /**
             * Message
             * @description when not available (no run stored yet): why, and how to run the audit
             */
            message: string | null;
            /**
             * Score
             * @description out of 10
             */
            score: number | null;
            /**
             * Status
             * @description PRODUCTION READY, NEARLY PRODUCTION READY or NOT PRODUCTION READY
             */
            status: string | null;
        };
        /** BackupRun */
        BackupRun: {
            /** Backup Label */
            backup_label: string | null;
            /** Backup Type */
            backup_type: ("full" | "diff" | "incr") | null;
            /** Duration Seconds */
            duration_seconds: number | null;
            /** Error */
            error: string | null;
            /** Finished At */
            finished_at: string | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Repo */
            repo: number;
            /**
             * Started At
             * Format: date-time
             */
            started_at: string;
            /**
             * Status
             * @enum {string}
             */
            status: "running" | "succeeded" | "failed";
            /**
             * Trigger
             * @enum {string}
             */
            trigger: "manual" | "scheduled";
        };
        /** Backups */
        Backups: {
            /**
             * Enabled
             * @description STUDIO_BACKUP_ENABLED: Studio runs its database's backups
             */
            enabled: boolean;
            /** @description the latest backup run, a running one included */
            last_backup: components["schemas"]["BackupRun"] | null;
            /** @description the latest restore drill, a running one included */
            last_drill: components["schemas"]["BackupRun"] | null;
        };
        /**
         * BackupState
         * @description As /readyz shows it (public.backup_status()): outcomes and times only.
         */
        BackupState: {
            /**
             * Last Backup
             * @description {"status", "type", "finished_at"} of the last finished backup
             */
            last_backup: {
                [key: string]: unknown;
            } | null;
            /**
             * Last Drill
             * @description {"status", "finished_at"} of the last finished drill
             */
            last_drill: {
                [key: string]: unknown;
            } | null;
            /** Last Successful Backup At */
            last_successful_backup_at: string | null;
            /**
             * Status
             * @enum {string}
             */
            status: "ok" | "disabled" | "failing" | "none" | "stale";
        };
        /** CaptionItem */
        CaptionItem: {
            /** Caption */
            caption: string | null;
            /**
             * Image Id
             * Format: uuid
             */
            image_id: string;
        };
        /**
         * CaptionsUpdate
         * @description Several captions at once, all or nothing: an image id that is not in the dataset
         *     fails the whole request (404) and changes nothing.
         */
        CaptionsUpdate: {
            /** Items */
            items: components["schemas"]["CaptionItem"][];
        };
        /** CaptionsUpdated */
        CaptionsUpdated: {
            /** Updated */
            updated: number;
        };
        /** CaptionUpdate */
        CaptionUpdate: {
            /**
             * Caption
             * @description null or empty: no caption
             */
            caption: string | null;
        };
        /** ChatCompletionRequest */
        ChatCompletionRequest: {
            /** Max Completion Tokens */
            max_completion_tokens?: number | null;
            /** Max Tokens */
            max_tokens?: number | null;
            /** Messages */
            messages: components["schemas"]["ChatMessageIn"][];
            /**
             * Model
             * @description a Studio model slug (GET /openai/v1/models)
             */
            model: string;
            /**
             * N
             * @description one choice per request
             */
            n?: number | null;
            /** Stop */
            stop?: string | string[] | null;
            /**
             * Stream
             * @default false
             */
            stream: boolean;
            stream_options?: components["schemas"]["StreamOptions"] | null;
            /** Temperature */
            temperature?: number | null;
            /** Tools */
            tools?: unknown[] | null;
            /** Top P */
            top_p?: number | null;
        } & {
            [key: string]: unknown;
        };
        /** ChatMessageIn */
        ChatMessageIn: {
            /** Content */
            content?: string | components["schemas"]["ContentPart"][] | null;
            /**
             * Role
             * @enum {string}
             */
            role: "system" | "developer" | "user" | "assistant" | "tool";
        } & {
            [key: string]: unknown;
        };
        /** Connection */
        Connection: {
            /**
             * Api Key Last4
             * @description the last 4 characters of the stored key; null: no key
             */
            api_key_last4: string | null;
            /** Base Url */
            base_url: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Enabled */
            enabled: boolean;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Kind
             * @enum {string}
             */
            kind: "openai" | "anthropic" | "gemini" | "ollama" | "replicate" | "elevenlabs" | "comfyui";
            /** Model Count */
            model_count: number;
            /** Name */
            name: string;
            /**
             * Status
             * @description null when this API process can use it; otherwise why not
             */
            status: string | null;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
        };
        /** ConnectionCreate */
        ConnectionCreate: {
            /**
             * Api Key
             * @description stored encrypted; never returned, only its last 4 characters
             */
            api_key?: string | null;
            /**
             * Base Url
             * @description default: the vendor's public API (see GET .../kinds)
             */
            base_url?: string | null;
            /**
             * Enabled
             * @default true
             */
            enabled: boolean;
            /**
             * Kind
             * @enum {string}
             */
            kind: "openai" | "anthropic" | "gemini" | "ollama" | "replicate" | "elevenlabs" | "comfyui";
            /**
             * Name
             * @description unique; default: the kind (then kind-2, ...)
             */
            name?: string | null;
        };
        /** ConnectionDeleted */
        ConnectionDeleted: {
            /** Deleted */
            deleted: boolean;
            /** Models Removed */
            models_removed: number;
        };
        /** ConnectionList */
        ConnectionList: {
            /** Items */
            items: components["schemas"]["Connection"][];
        };
        /** ConnectionTest */
        ConnectionTest: {
            /** Message */
            message: string;
            /**
             * Models
             * @description how many models the server offers, when it lists them
             */
            models?: number | null;
            /**
             * Ok
             * @description null: this kind cannot be checked without running a generation
             */
            ok: boolean | null;
        };
        /** ConnectionUpdate */
        ConnectionUpdate: {
            /**
             * Api Key
             * @description a new key replaces the stored one; null removes it, leaving the field out keeps it
             */
            api_key?: string | null;
            /** Base Url */
            base_url?: string | null;
            /** Enabled */
            enabled?: boolean | null;
            /** Name */
            name?: string | null;
        };
        /** ContentPart */
        ContentPart: {
            image_url?: components["schemas"]["ImageUrl"] | null;
            /** Text */
            text?: string | null;
            /** Type */
            type: string;
        } & {
            [key: string]: unknown;
        };
        /** Conversation */
        Conversation: {
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Model Id */
            model_id: string | null;
            /** System Prompt */
            system_prompt: string | null;
            /** Title */
            title: string;
            /**
             * Title Auto
             * @description the title is still a placeholder a title model may replace (renaming the conversation ends that)
             */
            title_auto: boolean;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
        };
        /** ConversationCreate */
        ConversationCreate: {
            /** Model Id */
            model_id?: string | null;
            /** System Prompt */
            system_prompt?: string | null;
            /**
             * Title
             * @default New conversation
             */
            title: string;
            /**
             * Title Auto
             * @description true: `title` is a placeholder (such as the first words of the question) that the title model the admin chose replaces after the first answer; default: true exactly when no title is given
             */
            title_auto?: boolean | null;
        };
        /** ConversationPage */
        ConversationPage: {
            /** Items */
            items: components["schemas"]["Conversation"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** ConversationUpdate */
        ConversationUpdate: {
            /** Model Id */
            model_id?: string | null;
            /** System Prompt */
            system_prompt?: string | null;
            /** Title */
            title?: string;
        };
        /** Dataset */
        Dataset: {
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Description */
            description: string | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Image Count */
            image_count: number;
            /** Name */
            name: string;
            /**
             * Status
             * @description in_use while a training run reads it
             * @enum {string}
             */
            status: "draft" | "ready" | "in_use" | "archived";
            /**
             * Total Bytes
             * @description the images' files, together
             */
            total_bytes: number;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
        };
        /** DatasetCreate */
        DatasetCreate: {
            /** Description */
            description?: string | null;
            /** Name */
            name: string;
        };
        /** DatasetImage */
        DatasetImage: {
            /** Caption */
            caption: string | null;
            /** Checksum Sha256 */
            checksum_sha256: string | null;
            /** Content Type */
            content_type: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Height */
            height: number | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Media Id
             * Format: uuid
             * @description the file: GET /v1/media/{media_id}
             */
            media_id: string;
            /** Size Bytes */
            size_bytes: number;
            /** Url */
            url: string;
            /** Width */
            width: number | null;
        };
        /** DatasetImagePage */
        DatasetImagePage: {
            /** Items */
            items: components["schemas"]["DatasetImage"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** DatasetPage */
        DatasetPage: {
            /** Items */
            items: components["schemas"]["Dataset"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** DatasetUpdate */
        DatasetUpdate: {
            /** Description */
            description?: string | null;
            /** Name */
            name?: string | null;
        };
        /**
         * ErrorBody
         * @description Every error Studio answers, whatever its status.
         */
        ErrorBody: {
            error: components["schemas"]["ErrorDetail"];
        };
        /** ErrorDetail */
        ErrorDetail: {
            /**
             * Code
             * @description stable and machine-readable, e.g. not_found, validation_error, rate_limited
             */
            code: string;
            /**
             * Details
             * @description for validation errors: where and what, per field
             * @default null
             */
            details: unknown;
            /**
             * Message
             * @description for people; never the offending input
             */
            message: string;
        };
        /** Generation */
        Generation: {
            /** Attempts */
            attempts: number;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Error */
            error: string | null;
            /** Finished At */
            finished_at: string | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Inputs
             * @description the media it started from, in order: given when it is created and by GET /v1/generations/{id}; null in lists (fetch the generation). A generation with a trained model lists its LoRA weights as a `lora` input
             */
            inputs?: components["schemas"]["GenerationInputUsed"][] | null;
            /** Model Id */
            model_id: string | null;
            /** Params */
            params: {
                [key: string]: unknown;
            };
            /** Progress */
            progress: number;
            /** Prompt */
            prompt: string;
            /** Provider */
            provider: string;
            result: components["schemas"]["GenerationResult"] | null;
            /** Started At */
            started_at: string | null;
            /**
             * Status
             * @enum {string}
             */
            status: "queued" | "running" | "succeeded" | "failed" | "canceled";
            /** Type */
            type: string;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
        };
        /** GenerationCreate */
        GenerationCreate: {
            /**
             * Inputs
             * @description media the generation starts from, in order; the model's capabilities say which it takes (GET /v1/models)
             */
            inputs?: components["schemas"]["GenerationInput"][];
            /**
             * Model Id
             * Format: uuid
             */
            model_id: string;
            /** Params */
            params?: {
                [key: string]: unknown;
            };
            /** Prompt */
            prompt: string;
            /**
             * Type
             * @enum {string}
             */
            type: "image" | "audio" | "video";
        };
        /** GenerationInput */
        GenerationInput: {
            /**
             * Media Id
             * Format: uuid
             * @description one of the caller's files: an upload or a result
             */
            media_id: string;
            /**
             * Role
             * @description image: image-to-image or image-to-video; mask: where an inpainting paints (white), with exactly one image; audio: the soundtrack of an image-to-video
             * @default image
             * @enum {string}
             */
            role: "image" | "mask" | "audio";
        };
        /** GenerationInputUsed */
        GenerationInputUsed: {
            /**
             * Media Id
             * Format: uuid
             */
            media_id: string;
            /**
             * Role
             * @enum {string}
             */
            role: "image" | "mask" | "audio" | "lora";
        };
        /** GenerationPage */
        GenerationPage: {
            /** Items */
            items: components["schemas"]["Generation"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** GenerationResult */
        GenerationResult: {
            /** Media */
            media: components["schemas"]["MediaRef"][];
        };
        /**
         * HostedTraining
         * @description How a hosted image model (Replicate) trains LoRAs on users' datasets (docs/training.md).
         */
        HostedTraining: {
            /**
             * Destination
             * @description a model of the connection's account that receives each trained version, owner/name
             */
            destination: string;
            /**
             * Inputs
             * @description inputs sent to the trainer with every run, before the run's own hyperparameters
             */
            inputs?: {
                [key: string]: string | number | boolean;
            };
            /**
             * Lora Field
             * @description this model's input that takes a trained LoRA (owner/name:version)
             * @default lora_weights
             */
            lora_field: string;
            /**
             * Trainer
             * @description the trainer model and version, owner/name:version
             */
            trainer: string;
        };
        /**
         * Hyperparameters
         * @description How a LoRA is trained. Every field has a default; a run records the values it used.
         */
        Hyperparameters: {
            /**
             * Batch Size
             * @default 1
             */
            batch_size?: number;
            /**
             * Checkpoint Every
             * @description steps between checkpoints: a run interrupted resumes from the last one
             * @default 100
             */
            checkpoint_every?: number;
            /**
             * Learning Rate
             * @default 0.0001
             */
            learning_rate?: number;
            /**
             * Rank
             * @description the LoRA's rank: larger learns more, and is bigger
             * @default 8
             */
            rank?: number;
            /**
             * Resolution
             * @description images are scaled and cropped to this square, in pixels
             * @default 512
             */
            resolution?: number;
            /**
             * Sample Every
             * @description steps between sample images (and one at the end); 0: none
             * @default 100
             */
            sample_every?: number;
            /**
             * Sample Prompt
             * @description what the samples show (default: the first image's caption with the trigger word)
             */
            sample_prompt?: string | null;
            /**
             * Sample Steps
             * @description denoising steps of each sample image
             * @default 20
             */
            sample_steps?: number;
            /**
             * Seed
             * @description the same seed repeats a run (default: random)
             */
            seed?: number | null;
            /**
             * Steps
             * @description optimizer steps
             * @default 500
             */
            steps?: number;
            /**
             * Trigger Word
             * @description a word put before every caption (e.g. sks): use it in prompts to call up what the model learned
             */
            trigger_word?: string | null;
        };
        /** ImageRequest */
        ImageRequest: {
            /** Model */
            model: string;
            /**
             * N
             * @default 1
             */
            n: number;
            /** Prompt */
            prompt: string;
            /** Quality */
            quality?: string | null;
            /** Response Format */
            response_format?: ("b64_json" | "url") | null;
            /** Size */
            size?: string | null;
        } & {
            [key: string]: unknown;
        };
        /** ImageUploaded */
        ImageUploaded: {
            /** Caption */
            caption: string | null;
            /** Checksum Sha256 */
            checksum_sha256: string | null;
            /** Content Type */
            content_type: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Duplicate
             * @description true: the dataset already had this very file, and this is that image (nothing new was stored)
             */
            duplicate: boolean;
            /** Height */
            height: number | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Media Id
             * Format: uuid
             * @description the file: GET /v1/media/{media_id}
             */
            media_id: string;
            /** Size Bytes */
            size_bytes: number;
            /** Url */
            url: string;
            /** Width */
            width: number | null;
        };
        /** ImageUrl */
        ImageUrl: {
            /** Detail */
            detail?: string | null;
            /** Url */
            url: string;
        } & {
            [key: string]: unknown;
        };
        /** KindInfo */
        KindInfo: {
            /**
             * Api Key
             * @enum {string}
             */
            api_key: "required" | "optional";
            /** Chat */
            chat: boolean;
            /** Default Base Url */
            default_base_url: string;
            /**
             * Kind
             * @enum {string}
             */
            kind: "openai" | "anthropic" | "gemini" | "ollama" | "replicate" | "elevenlabs" | "comfyui";
            /** Label */
            label: string;
            /** Lists Models */
            lists_models: boolean;
            /** Media Types */
            media_types: string[];
        };
        /** KindList */
        KindList: {
            /** Items */
            items: components["schemas"]["KindInfo"][];
        };
        /** LoginRequest */
        LoginRequest: {
            /**
             * Email
             * Format: email
             */
            email: string;
            /** Password */
            password: string;
            /**
             * Recovery Code
             * @description instead of totp_code: one of the recovery codes, once each
             */
            recovery_code?: string | null;
            /**
             * Totp Code
             * @description when two-factor authentication is on: the app's current code
             */
            totp_code?: string | null;
        };
        /** LoginResponse */
        LoginResponse: {
            /** Csrf Token */
            csrf_token: string;
            /**
             * Expires At
             * Format: date-time
             */
            expires_at: string;
            user: components["schemas"]["User"];
        };
        /** MarkedRead */
        MarkedRead: {
            /**
             * Marked
             * @description how many were unread until now
             */
            marked: number;
        };
        /** MediaRef */
        MediaRef: {
            /** Content Type */
            content_type: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Size */
            size: number;
            /** Url */
            url: string;
        };
        /** MeResponse */
        MeResponse: {
            /**
             * Csrf Token
             * @description present when authenticated by session cookie
             */
            csrf_token?: string | null;
            user: components["schemas"]["User"];
        };
        /** Message */
        Message: {
            /** Attachments */
            attachments?: components["schemas"]["Attachment"][];
            /** Content */
            content: string;
            /**
             * Conversation Id
             * Format: uuid
             */
            conversation_id: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Model */
            model: string | null;
            /** Parent Id */
            parent_id: string | null;
            /** Role */
            role: string;
        };
        /** MessageCreate */
        MessageCreate: {
            /**
             * Attachments
             * @description ids of the caller's own images (uploads or results), sent with the message to models with vision
             */
            attachments?: string[];
            /**
             * Compare Model Ids
             * @description compare: 2 to 4 chat models answer at once, each answer a sibling child of this message, streamed together (every event then names its `answer` index and `model`); instead of model_id
             */
            compare_model_ids?: string[];
            /** Content */
            content: string;
            /**
             * Generate
             * @description answer with a model: the reply streams back as Server-Sent Events and is stored as a child of this message
             * @default false
             */
            generate: boolean;
            /** Model */
            model?: string | null;
            /**
             * Model Id
             * @description the chat model to answer with; default: the conversation's model
             */
            model_id?: string | null;
            /**
             * Parent Id
             * @description the message this one answers or replaces a sibling of; omitted: the conversation's latest message; null: a new root
             */
            parent_id?: string | null;
            /**
             * Role
             * @enum {string}
             */
            role: "system" | "user" | "assistant" | "tool";
        };
        /** MessageList */
        MessageList: {
            /** Items */
            items: components["schemas"]["Message"][];
        };
        /** MigrationState */
        MigrationState: {
            /** Current */
            current: string | null;
            /** Expected */
            expected: string | null;
            /**
             * Status
             * @enum {string}
             */
            status: "ok" | "behind";
        };
        /** Model */
        Model: {
            /** Available */
            available: boolean;
            /**
             * Base Model Id
             * @description a model you trained: the model its LoRA applies to (only you see it)
             */
            base_model_id?: string | null;
            /**
             * Capabilities
             * @description what it does: chat, vision, image, image-to-image, inpainting, video, image-to-video, speech, transcription, music
             */
            capabilities: string[];
            /** Description */
            description: string | null;
            /** Display Name */
            display_name: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Parameters
             * @description a JSON Schema (an object schema, self-contained) of the `params` that POST /v1/generations accepts for this model: each property's type, enum, minimum/maximum, multipleOf, minLength/maxLength, pattern and description; all are optional (default null: the provider's default). Chat models take none: {"type": "object", "properties": {}, "additionalProperties": false}
             * @example {
             *       "additionalProperties": false,
             *       "properties": {
             *         "speed": {
             *           "description": "words per minute (default 175)",
             *           "maximum": 450,
             *           "minimum": 80,
             *           "type": "integer"
             *         }
             *       },
             *       "type": "object"
             *     }
             */
            parameters: {
                [key: string]: unknown;
            };
            /** Provider */
            provider: string;
            /** Slug */
            slug: string;
            /**
             * Trainable
             * @description LoRAs can be trained for it (POST /v1/training-jobs): on the worker (local diffusers) or at its provider (a hosted trainer)
             * @default false
             */
            trainable: boolean;
            /** Type */
            type: string;
            /** Unavailable Reason */
            unavailable_reason: string | null;
        };
        /** ModelCreate */
        ModelCreate: {
            /** Capabilities */
            capabilities?: ("chat" | "vision" | "image" | "image-to-image" | "inpainting" | "video" | "image-to-video" | "speech" | "transcription" | "music")[] | null;
            /**
             * Connection Id
             * @description required unless the provider is local (espeak, ffmpeg, diffusers)
             */
            connection_id?: string | null;
            /**
             * Cost Cents
             * @description what one generation costs, for the cost caps
             */
            cost_cents?: number | null;
            /**
             * Default Params
             * @description sent with every request, under what the user sets (e.g. temperature, max_tokens)
             */
            default_params?: {
                [key: string]: unknown;
            };
            /** Description */
            description?: string | null;
            /** Display Name */
            display_name?: string | null;
            /**
             * Enabled
             * @default true
             */
            enabled: boolean;
            /**
             * Input Cents Per Mtok
             * @description chat: cents per million prompt tokens
             */
            input_cents_per_mtok?: number | null;
            /**
             * Output Cents Per Mtok
             * @description chat: cents per million answer tokens
             */
            output_cents_per_mtok?: number | null;
            /**
             * Provider
             * @description default: the connection's kind
             */
            provider?: string | null;
            /** Provider Model */
            provider_model: string;
            /**
             * Slug
             * @description default: <connection>/<upstream name>, made a valid slug
             */
            slug?: string | null;
            /** @description a Replicate image model: users train LoRAs for it with this trainer */
            training?: components["schemas"]["HostedTraining"] | null;
            /**
             * Type
             * @enum {string}
             */
            type: "chat" | "image" | "audio" | "video";
            /**
             * Voices
             * @description speech models: the voices it offers (the `voice` parameter then takes only these, and forms show them as a list); empty: any voice the provider knows
             */
            voices?: string[] | null;
        };
        /** ModelImport */
        ModelImport: {
            /**
             * Enabled
             * @default true
             */
            enabled: boolean;
            /** Models */
            models: components["schemas"]["ModelImportItem"][];
        };
        /** ModelImportItem */
        ModelImportItem: {
            /**
             * Capabilities
             * @description default: what the type implies
             */
            capabilities?: ("chat" | "vision" | "image" | "image-to-image" | "inpainting" | "video" | "image-to-video" | "speech" | "transcription" | "music")[] | null;
            /** Display Name */
            display_name?: string | null;
            /** Provider Model */
            provider_model: string;
            /**
             * Type
             * @default chat
             * @enum {string}
             */
            type: "chat" | "image" | "audio" | "video";
        };
        /** ModelList */
        ModelList: {
            /** Items */
            items: components["schemas"]["Model"][];
            /**
             * Setup Hint
             * @description when no chat model can run here: what to configure, and where
             */
            setup_hint?: string | null;
        };
        /** ModelUpdate */
        ModelUpdate: {
            /** Capabilities */
            capabilities?: ("chat" | "vision" | "image" | "image-to-image" | "inpainting" | "video" | "image-to-video" | "speech" | "transcription" | "music")[] | null;
            /** Cost Cents */
            cost_cents?: number | null;
            /** Default Params */
            default_params?: {
                [key: string]: unknown;
            } | null;
            /** Description */
            description?: string | null;
            /** Display Name */
            display_name?: string | null;
            /** Enabled */
            enabled?: boolean | null;
            /**
             * Input Cents Per Mtok
             * @description chat: cents per million prompt tokens
             */
            input_cents_per_mtok?: number | null;
            /**
             * Output Cents Per Mtok
             * @description chat: cents per million answer tokens
             */
            output_cents_per_mtok?: number | null;
            /** Provider Model */
            provider_model?: string | null;
            /** Slug */
            slug?: string | null;
            /** @description null: this model no longer trains LoRAs */
            training?: components["schemas"]["HostedTraining"] | null;
            /**
             * Use For Titles
             * @description true: this chat model writes conversations' titles after their first answer (and no other model does)
             */
            use_for_titles?: boolean | null;
            /**
             * Voices
             * @description speech models: the voices it offers (the `voice` parameter then takes only these, and forms show them as a list); empty: any voice the provider knows
             */
            voices?: string[] | null;
        };
        /** Notification */
        Notification: {
            /** Body */
            body: string | null;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Data
             * @description what it is about, e.g. {"generation_id": ..., "status": ...}
             */
            data: {
                [key: string]: unknown;
            };
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Kind
             * @enum {string}
             */
            kind: "generation" | "training" | "share" | "quota" | "system" | "backup";
            /** Read At */
            read_at: string | null;
            /** Title */
            title: string;
        };
        /** NotificationPage */
        NotificationPage: {
            /** Items */
            items: components["schemas"]["Notification"][];
            /** Next Cursor */
            next_cursor: string | null;
            /**
             * Unread Count
             * @description all of the caller's unread notifications, not only this page's
             */
            unread_count: number;
        };
        /**
         * NotificationPreferences
         * @description The kinds of notification the caller does not want; everything else is on.
         */
        NotificationPreferences: {
            /**
             * Muted
             * @description e.g. ["generation"]: no notification when a generation ends
             */
            muted: ("generation" | "training" | "share" | "quota" | "system" | "backup")[];
        };
        /** OpenAIModel */
        OpenAIModel: {
            /** Created */
            created: number;
            /** Id */
            id: string;
            /**
             * Object
             * @default model
             * @constant
             */
            object: "model";
            /** Owned By */
            owned_by: string;
        };
        /** OpenAIModelList */
        OpenAIModelList: {
            /** Data */
            data: components["schemas"]["OpenAIModel"][];
            /**
             * Object
             * @default list
             * @constant
             */
            object: "list";
        };
        /** OpsSummary */
        OpsSummary: {
            audit: components["schemas"]["AuditSummary"];
            backups: components["schemas"]["Backups"];
            /**
             * Generated At
             * Format: date-time
             */
            generated_at: string;
            pool: components["schemas"]["PoolStats"];
            /**
             * Queue
             * @description every job kind, also those without jobs
             */
            queue: components["schemas"]["QueueKind"][];
            readiness: components["schemas"]["Readiness"];
            /**
             * Workers
             * @description the nodes workers registered, by name
             */
            workers: components["schemas"]["WorkerNode"][];
        };
        /** PasswordChange */
        PasswordChange: {
            /**
             * Current Password
             * @description your password now, also when you call with an API key
             */
            current_password: string;
            /**
             * End Api Keys
             * @description also revoke every API key of yours (the one making this request included), e.g. when the old password leaked with them
             * @default false
             */
            end_api_keys: boolean;
            /** New Password */
            new_password: string;
        };
        /**
         * PoolStats
         * @description The answering API process's database pool (psycopg_pool get_stats()). With
         *     STUDIO_API_WORKERS > 1 each process has its own: /metrics sums them.
         */
        PoolStats: {
            /**
             * Available
             * @description of those, idle in the pool
             */
            available: number;
            /** Connections Errors */
            connections_errors: number;
            /** Connections Lost */
            connections_lost: number;
            /**
             * Connections Total
             * @description connections opened to the server
             */
            connections_total: number;
            /** In Use */
            in_use: number;
            /** Max Size */
            max_size: number;
            /** Min Size */
            min_size: number;
            /** Process Id */
            process_id: number;
            /**
             * Requests Errors
             * @description requests that got no connection in time (answered 503)
             */
            requests_errors: number;
            /**
             * Requests Queued
             * @description of those, how many had to wait
             */
            requests_queued: number;
            /**
             * Requests Total
             * @description connections handed out since the process started
             */
            requests_total: number;
            /**
             * Requests Wait Ms
             * @description total time waited
             */
            requests_wait_ms: number;
            /**
             * Requests Waiting
             * @description requests waiting for a connection now
             */
            requests_waiting: number;
            /**
             * Returns Bad
             * @description connections returned broken
             */
            returns_bad: number;
            /**
             * Size
             * @description connections open now
             */
            size: number;
        };
        /** ProfileUpdate */
        ProfileUpdate: {
            /**
             * Display Name
             * @description 1 to 100 characters once trimmed; null removes it
             */
            display_name: string | null;
        };
        /** QueueKind */
        QueueKind: {
            /**
             * Due
             * @description of the queued jobs, those whose run_after has come (the others wait out a retry's backoff)
             */
            due: number;
            /**
             * Kind
             * @enum {string}
             */
            kind: "generation" | "training" | "storage_cleanup" | "maintenance" | "conversation_title";
            /**
             * Oldest Queued Age Seconds
             * @description how long the longest-waiting due job has waited since its run_after (its enqueueing, or the end of its backoff); null when no job is due
             */
            oldest_queued_age_seconds: number | null;
            /** Queued */
            queued: number;
            /** Running */
            running: number;
        };
        /**
         * Readiness
         * @description What GET /readyz answers, checked now by this API process.
         */
        Readiness: {
            checks: components["schemas"]["ReadinessChecks"];
            /**
             * Status
             * @enum {string}
             */
            status: "ready" | "not_ready";
        };
        /** ReadinessChecks */
        ReadinessChecks: {
            /** @description present when the schema is at the expected revision */
            backups?: components["schemas"]["BackupState"] | null;
            /**
             * Database
             * @description "ok", or "error: <exception type>"
             */
            database: string;
            migrations?: components["schemas"]["MigrationState"] | null;
        };
        /** RecoveryCodes */
        RecoveryCodes: {
            /**
             * Recovery Codes
             * @description shown this once; each signs in once instead of a code
             */
            recovery_codes: string[];
        };
        /** Sample */
        Sample: {
            /**
             * Media Id
             * Format: uuid
             */
            media_id: string;
            /** Step */
            step: number;
            /** Url */
            url: string;
        };
        /** SearchHit */
        SearchHit: {
            /**
             * Conversation Id
             * Format: uuid
             */
            conversation_id: string;
            /** Conversation Title */
            conversation_title: string;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Id
             * Format: uuid
             * @description the message's id, or the conversation's for a title match
             */
            id: string;
            /**
             * Message Id
             * @description null when the conversation's title matched
             */
            message_id: string | null;
            /** Role */
            role: string | null;
            /**
             * Snippet
             * @description the matching text around the words found, each match between « and »
             */
            snippet: string;
        };
        /** SearchPage */
        SearchPage: {
            /** Items */
            items: components["schemas"]["SearchHit"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** SetupLinkState */
        SetupLinkState: {
            /** Valid */
            valid: boolean;
        };
        /**
         * SetupRequest
         * @description The first admin, by the one-time setup link: sign-up's rules plus the link's token.
         */
        SetupRequest: {
            /** Display Name */
            display_name?: string | null;
            /**
             * Email
             * Format: email
             */
            email: string;
            /** Password */
            password: string;
            /**
             * Token
             * @description the token of the setup link (what follows #token= in /setup#token=...)
             */
            token: string;
        };
        /**
         * Share
         * @description A link of the caller's: `url` is the path under this server to open or hand out.
         */
        Share: {
            /** Conversation Id */
            conversation_id: string | null;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Expires At */
            expires_at: string | null;
            /** Generation Id */
            generation_id: string | null;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Revoked At */
            revoked_at: string | null;
            /** Slug */
            slug: string;
            /**
             * Url
             * @description the link's path, /s/<slug>; prefix it with the server's origin to share it
             */
            url: string;
        };
        /** ShareCreate */
        ShareCreate: {
            /** Conversation Id */
            conversation_id?: string | null;
            /**
             * Expires At
             * @description omit for a link that lasts until revoked
             */
            expires_at?: string | null;
            /** Generation Id */
            generation_id?: string | null;
        };
        /** SharePage */
        SharePage: {
            /** Items */
            items: components["schemas"]["Share"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /**
         * SignupAccepted
         * @description The answer to every valid sign-up, whether or not the email had an account.
         */
        SignupAccepted: {
            /**
             * Email
             * @description the email as stored (lower case)
             */
            email: string;
            /**
             * Next
             * @description what to do now: log in with the same email and password
             */
            next: string;
        };
        /** SignupRequest */
        SignupRequest: {
            /** Display Name */
            display_name?: string | null;
            /**
             * Email
             * Format: email
             */
            email: string;
            /** Password */
            password: string;
        };
        /** SpeechRequest */
        SpeechRequest: {
            /** Input */
            input: string;
            /** Model */
            model: string;
            /** Response Format */
            response_format?: ("mp3" | "wav" | "opus" | "aac" | "flac" | "pcm") | null;
            /** Speed */
            speed?: number | null;
            /** Voice */
            voice?: string | unknown | null;
        } & {
            [key: string]: unknown;
        };
        /** StreamOptions */
        StreamOptions: {
            /**
             * Include Usage
             * @default false
             */
            include_usage: boolean;
        } & {
            [key: string]: unknown;
        };
        /** Suggestion */
        Suggestion: {
            /** Base Url */
            base_url: string;
            /**
             * Kind
             * @enum {string}
             */
            kind: "openai" | "anthropic" | "gemini" | "ollama" | "replicate" | "elevenlabs" | "comfyui";
            /** Message */
            message: string;
            /** Name */
            name: string;
        };
        /** SuggestionList */
        SuggestionList: {
            /** Items */
            items: components["schemas"]["Suggestion"][];
        };
        /** TotpBegin */
        TotpBegin: {
            /**
             * Password
             * @description your password, again
             */
            password: string;
        };
        /**
         * TotpCheck
         * @description Turning two-factor authentication off, or replacing the recovery codes.
         */
        TotpCheck: {
            /**
             * Code
             * @description the app's current code, or one of the recovery codes
             */
            code: string;
            /** Password */
            password: string;
        };
        /** TotpConfirm */
        TotpConfirm: {
            /**
             * Code
             * @description the app's current six-digit code
             */
            code: string;
        };
        /** TotpSecret */
        TotpSecret: {
            /**
             * Secret
             * @description base32, for typing into the authenticator app
             */
            secret: string;
            /**
             * Uri
             * @description otpauth://totp/... for a QR code or a phone's link handler
             */
            uri: string;
        };
        /** TotpStatus */
        TotpStatus: {
            /** Enabled */
            enabled: boolean;
            /** Recovery Codes Left */
            recovery_codes_left: number;
            /**
             * Required
             * @description you are an admin and this installation requires it
             */
            required: boolean;
        };
        /** TrainedModel */
        TrainedModel: {
            /** Base Model Id */
            base_model_id: string | null;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Metrics */
            metrics: {
                [key: string]: unknown;
            };
            /** Name */
            name: string;
            /**
             * Provider Weights
             * @description trained at a provider: the LoRA there (owner/name:version), which generations with this model use
             */
            provider_weights: string | null;
            /** Training Job Id */
            training_job_id: string | null;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
            /** Weights Bytes */
            weights_bytes: number | null;
            /**
             * Weights Media Id
             * @description the LoRA's weights (safetensors; as the provider gave them for a hosted run): GET /v1/media/{id}
             */
            weights_media_id: string | null;
        };
        /** TrainedModelPage */
        TrainedModelPage: {
            /** Items */
            items: components["schemas"]["TrainedModel"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** TrainedModelUpdate */
        TrainedModelUpdate: {
            /** Name */
            name: string;
        };
        /** TrainingCreate */
        TrainingCreate: {
            /**
             * Base Model Id
             * Format: uuid
             * @description a local diffusers image model (trained on the worker), or an image model with a hosted trainer (trained at its provider)
             */
            base_model_id: string;
            /**
             * Dataset Id
             * Format: uuid
             */
            dataset_id: string;
            hyperparams?: components["schemas"]["Hyperparameters"];
            /**
             * Name
             * @description the trained model's name (default: the dataset's)
             */
            name?: string | null;
        };
        /** TrainingRun */
        TrainingRun: {
            /** Base Model Id */
            base_model_id: string | null;
            /**
             * Checkpoint Step
             * @description the step an interrupted run resumes from
             */
            checkpoint_step: number;
            /**
             * Created At
             * Format: date-time
             */
            created_at: string;
            /** Current Step */
            current_step: number;
            /**
             * Dataset Id
             * @description null once the dataset was deleted
             */
            dataset_id: string | null;
            /** Error */
            error: string | null;
            /**
             * Eta Seconds
             * @description while training: the time left at the pace so far
             */
            eta_seconds: number | null;
            /** Finished At */
            finished_at: string | null;
            /** Hyperparams */
            hyperparams: {
                [key: string]: unknown;
            };
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /**
             * Loss History
             * @description the loss of every step so far, in order
             */
            loss_history: number[];
            /** Name */
            name: string | null;
            /**
             * Progress
             * @description percent
             */
            progress: number;
            /**
             * Provider Job Id
             * @description trained at its base model's provider: the training there (its steps are reported, its losses are not)
             */
            provider_job_id: string | null;
            /**
             * Samples
             * @description images of the sample prompt as training went on, by step
             */
            samples: components["schemas"]["Sample"][];
            /** Started At */
            started_at: string | null;
            /**
             * Status
             * @enum {string}
             */
            status: "queued" | "preparing" | "training" | "succeeded" | "failed" | "canceled";
            /** Total Steps */
            total_steps: number;
            /** Trained Model Id */
            trained_model_id: string | null;
            /**
             * Updated At
             * Format: date-time
             */
            updated_at: string;
        };
        /** TrainingRunPage */
        TrainingRunPage: {
            /** Items */
            items: components["schemas"]["TrainingRun"][];
            /** Next Cursor */
            next_cursor: string | null;
        };
        /** Transcription */
        Transcription: {
            /**
             * Model
             * @description the slug of the model that transcribed it
             */
            model: string;
            /**
             * Text
             * @description what was said, as the vendor wrote it
             */
            text: string;
        };
        /** UpstreamModel */
        UpstreamModel: {
            /** Capabilities */
            capabilities: string[];
            /** Display Name */
            display_name: string | null;
            /**
             * Name
             * @description the vendor's model name, as its API takes it
             */
            name: string;
            /**
             * Registered Types
             * @description types already in the registry for it on this connection
             */
            registered_types: ("chat" | "image" | "audio" | "video")[];
        };
        /** UpstreamModelList */
        UpstreamModelList: {
            /** Items */
            items: components["schemas"]["UpstreamModel"][];
        };
        /** UsageRow */
        UsageRow: {
            /** Cost Cents */
            cost_cents: number;
            /**
             * Day
             * Format: date
             * @description the UTC day
             */
            day: string;
            /**
             * Input Tokens
             * @description chat: the prompt tokens the vendor counted
             */
            input_tokens: number;
            /**
             * Kind
             * @description chat, image, audio, video or training
             */
            kind: string;
            /**
             * Model
             * @description the upstream model name, as the vendor bills it
             */
            model: string | null;
            /**
             * Output Tokens
             * @description chat: the answer tokens the vendor counted
             */
            output_tokens: number;
            /** Provider */
            provider: string;
            /** Requests */
            requests: number;
            /**
             * Units
             * @description chat: tokens in and out; generations: files produced
             */
            units: number;
        };
        /** UsageSummary */
        UsageSummary: {
            /** Items */
            items: components["schemas"]["UsageRow"][];
            /**
             * Since
             * Format: date
             */
            since: string;
            totals: components["schemas"]["UsageTotals"];
            /**
             * Until
             * Format: date
             */
            until: string;
        };
        /** UsageTotals */
        UsageTotals: {
            /** Cost Cents */
            cost_cents: number;
            /** Input Tokens */
            input_tokens: number;
            /** Output Tokens */
            output_tokens: number;
            /** Requests */
            requests: number;
        };
        /** User */
        User: {
            /** Created At */
            created_at?: string | null;
            /** Display Name */
            display_name: string | null;
            /** Email */
            email: string;
            /**
             * Id
             * Format: uuid
             */
            id: string;
            /** Role */
            role: string;
        };
        /** UserEnvelope */
        UserEnvelope: {
            user: components["schemas"]["User"];
        };
        /**
         * WorkerNode
         * @description A node workers run on (public.node_resources), as its workers registered it.
         */
        WorkerNode: {
            /**
             * Last Heartbeat At
             * @description when one of its workers last renewed it (every 15 s)
             */
            last_heartbeat_at: string | null;
            /**
             * Live
             * @description online and heard from within the last minute: what it offers counts
             */
            live: boolean;
            /**
             * Name
             * @description the host's name, or the workers' STUDIO_WORKER_NODE
             */
            name: string;
            /**
             * Provides
             * @description the local providers its workers can run (jobs requiring one of them go only to workers that offer it)
             */
            provides: string[];
            /**
             * Status
             * @enum {string}
             */
            status: "online" | "offline" | "draining";
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    healthz_healthz_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
        };
    };
    metrics_metrics_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": unknown;
                };
            };
            /** @description STUDIO_METRICS_TOKEN is set and not sent as the bearer token */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    speech_openai_v1_audio_speech_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SpeechRequest"];
            };
        };
        responses: {
            /** @description the speech */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "audio/*": unknown;
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no or a revoked API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such model for this caller */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run here (and why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limit or quota */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the generation failed */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    transcriptions_openai_v1_audio_transcriptions_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": {
                    /**
                     * Format: binary
                     * @description the recording: wav, mp3, ogg/opus, webm, m4a/mp4 or flac, at most STUDIO_MAX_UPLOAD_BYTES; its content must match its declared type
                     */
                    file: string;
                    /** Language */
                    language?: string | null;
                    /**
                     * Model
                     * @description a Studio model slug (GET /openai/v1/models)
                     */
                    model: string;
                    /** Prompt */
                    prompt?: string | null;
                    /**
                     * Response Format
                     * @default json
                     * @enum {string}
                     */
                    response_format?: "json" | "text" | "verbose_json";
                    /** Temperature */
                    temperature?: number | null;
                };
            };
        };
        responses: {
            /** @description the text: {"text"} (json), the text itself (text), or with language and duration (verbose_json; unknown ones null) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                    "text/plain": unknown;
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no or a revoked API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such model for this caller */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run here (and why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the file is over STUDIO_MAX_UPLOAD_BYTES */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the file is not accepted audio, or not the type it declares */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a field is invalid, the file is missing, or the model does not transcribe */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limit or quota */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the vendor failed */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    chat_completions_openai_v1_chat_completions_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ChatCompletionRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description unsupported input (tools, images for a model without vision, ...) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no or a revoked API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such model for this caller */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run here (and why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limit or quota */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the vendor failed before answering */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    images_openai_v1_images_generations_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ImageRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no or a revoked API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such model for this caller */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run here (and why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limit or quota */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the generation failed */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description it takes longer; it goes on */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    models_openai_v1_models_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpenAIModelList"];
                };
            };
            /** @description no or a revoked API key */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such model for this caller */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run here (and why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limit or quota */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    readyz_readyz_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    view_share_s__slug__get: {
        parameters: {
            query?: {
                format?: string | null;
            };
            header?: never;
            path: {
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            /** @description no such link, or expired or revoked: a page saying so, or the error JSON for a JSON client */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                    "text/html": unknown;
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    shared_media_s__slug__media__media_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                media_id: string;
                slug: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                    "application/octet-stream": unknown;
                };
            };
            /** @description the part the Range header asked for */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the Range header asks for bytes the file does not have */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    connection_kinds_v1_admin_connection_kinds_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["KindList"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_connections_v1_admin_connections_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConnectionList"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_connection_v1_admin_connections_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ConnectionCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Connection"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the name is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description STUDIO_CREDENTIALS_KEY is not set: a key cannot be stored */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_connection_v1_admin_connections__connection_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                connection_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Connection"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_connection_v1_admin_connections__connection_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                connection_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConnectionDeleted"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_connection_v1_admin_connections__connection_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                connection_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ConnectionUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Connection"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the name is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description STUDIO_CREDENTIALS_KEY is not set: a key cannot be stored */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    import_models_v1_admin_connections__connection_id__models_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                connection_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ModelImport"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminModelList"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description one of them is registered already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    test_connection_v1_admin_connections__connection_id__test_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                connection_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConnectionTest"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    upstream_models_v1_admin_connections__connection_id__upstream_models_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                connection_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UpstreamModelList"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the connection is disabled or unusable, or cannot list models */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the server did not answer as expected */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    connection_suggestions_v1_admin_connections_suggestions_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SuggestionList"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_models_v1_admin_models_get: {
        parameters: {
            query?: {
                connection_id?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminModelList"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_model_v1_admin_models_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ModelCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminModel"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the slug, or this upstream model of this type, is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_model_v1_admin_models__model_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_model_v1_admin_models__model_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ModelUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminModel"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the slug is taken */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    ops_summary_v1_admin_ops_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OpsSummary"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    top_statements_v1_admin_statements_get: {
        parameters: {
            query?: {
                limit?: number;
                order?: "total_time" | "mean_time" | "calls";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not an admin (as if the endpoint did not exist) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description pg_stat_statements is not available */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_api_keys_v1_api_keys_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiKeyPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_api_key_v1_api_keys_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ApiKeyCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiKeyCreated"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    revoke_api_key_v1_api_keys__key_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                key_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    login_v1_auth_login_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LoginResponse"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the email or the password is wrong (invalid_credentials); the account has two-factor authentication on and no code was given (second_factor_required), or a wrong or used one (invalid_second_factor) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many failed logins: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    logout_v1_auth_logout_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description called with an API key: keys are revoked with DELETE /v1/api-keys/{id} */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    signup_v1_auth_signup_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SignupRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SignupAccepted"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many requests: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_conversations_v1_conversations_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
                /** @description only conversations whose title contains this text, ignoring case (% and _ match themselves); pages and their cursors work the same */
                q?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ConversationPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_conversation_v1_conversations_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ConversationCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Conversation"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_conversation_v1_conversations__conversation_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                conversation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Conversation"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_conversation_v1_conversations__conversation_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                conversation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_conversation_v1_conversations__conversation_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                conversation_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ConversationUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Conversation"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_messages_v1_conversations__conversation_id__messages_get: {
        parameters: {
            query?: {
                leaf_id?: string | null;
            };
            header?: never;
            path: {
                conversation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MessageList"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    add_message_v1_conversations__conversation_id__messages_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                conversation_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["MessageCreate"];
            };
        };
        responses: {
            /** @description with generate: Server-Sent Events: `event: message` (the user message answered), then `event: delta` `{"content": "..."}` as the answer arrives, then `event: done` (the stored answer, a Message; null when the conversation was deleted meanwhile) or `event: error` `{"code", "message"}` (nothing stored). With `compare_model_ids`, the same events for each model, interleaved, each naming its `answer` index and `model`; each answer is stored when it is complete */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": unknown;
                };
            };
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Message"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many requests: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    answer_again_v1_conversations__conversation_id__messages__message_id__answers_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                conversation_id: string;
                message_id: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["AnswerCreate"] | null;
            };
        };
        responses: {
            /** @description Server-Sent Events: `event: message` (the user message answered), then `event: delta` `{"content": "..."}` as the answer arrives, then `event: done` (the stored answer, a Message; null when the conversation was deleted meanwhile) or `event: error` `{"code", "message"}` (nothing stored). With `compare_model_ids`, the same events for each model, interleaved, each naming its `answer` index and `model`; each answer is stored when it is complete */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": unknown;
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such conversation or message of yours */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run here */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the message is not a user message, or no chat model is chosen */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limited (the chat limit) */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    search_v1_conversations_search_get: {
        parameters: {
            query: {
                cursor?: string | null;
                limit?: number;
                /** @description words to find, in any order, in message texts and titles; "a phrase", -excluded, or */
                q: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SearchPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_datasets_v1_datasets_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_dataset_v1_datasets_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DatasetCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_dataset_v1_datasets__dataset_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_dataset_v1_datasets__dataset_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a training run still needs it */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_dataset_v1_datasets__dataset_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DatasetUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Dataset"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_captions_v1_datasets__dataset_id__captions_put: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CaptionsUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CaptionsUpdated"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_images_v1_datasets__dataset_id__images_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
            };
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetImagePage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    upload_image_v1_datasets__dataset_id__images_post: {
        parameters: {
            query?: {
                caption?: string | null;
            };
            header?: never;
            path: {
                dataset_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "image/jpeg": string;
                "image/png": string;
                "image/webp": string;
            };
        };
        responses: {
            /** @description the dataset already had this file */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageUploaded"];
                };
            };
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ImageUploaded"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the dataset is full */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too large, or past the storage quota */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not a PNG, JPEG or WebP image */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many requests: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_image_v1_datasets__dataset_id__images__image_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
                image_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_caption_v1_datasets__dataset_id__images__image_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                dataset_id: string;
                image_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CaptionUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DatasetImage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    user_events_v1_events_get: {
        parameters: {
            query?: {
                /** @description Resume after this event id (the Last-Event-ID header takes precedence) */
                last_event_id?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Server-Sent Events: `id`, `event: generation`, `data: {"generation_id", "status", "progress", "error", "created_at"}`; on /v1/events also `event: notification`, `data: {"id", "kind", "title", "body", "data", "read_at", "created_at"}` (no id), and `event: training`, `data: {"id", "status", "progress", "current_step", "total_steps", "checkpoint_step", "samples", "error", "trained_model_id", "losses": {"from_step", "values"}, ...}` (no id) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description Last-Event-ID is not an event id */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many open event streams; retry after Retry-After seconds */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_generations_v1_generations_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
                status?: ("queued" | "running" | "succeeded" | "failed" | "canceled") | null;
                type?: ("image" | "audio" | "video") | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["GenerationPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_generation_v1_generations_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["GenerationCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Generation"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the model cannot run now (no provider or worker for it) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many requests: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_generation_v1_generations__generation_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                generation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Generation"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_generation_v1_generations__generation_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                generation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    cancel_generation_v1_generations__generation_id__cancel_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                generation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Generation"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    generation_events_v1_generations__generation_id__events_get: {
        parameters: {
            query?: {
                /** @description Resume after this event id (the Last-Event-ID header takes precedence) */
                last_event_id?: string | null;
            };
            header?: never;
            path: {
                generation_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Server-Sent Events: `id`, `event: generation`, `data: {"generation_id", "status", "progress", "error", "created_at"}`; on /v1/events also `event: notification`, `data: {"id", "kind", "title", "body", "data", "read_at", "created_at"}` (no id), and `event: training`, `data: {"id", "status", "progress", "current_step", "total_steps", "checkpoint_step", "samples", "error", "trained_model_id", "losses": {"from_step", "values"}, ...}` (no id) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description Last-Event-ID is not an event id */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such generation of yours */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many open event streams; retry after Retry-After seconds */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    me_v1_me_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MeResponse"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_my_account_v1_me_delete: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AccountDeletion"];
            };
        };
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the password is wrong */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many wrong passwords: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    update_me_v1_me_patch: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProfileUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserEnvelope"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_audit_log_v1_me_audit_log_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditEventPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    export_my_data_v1_me_export_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description a ZIP, streamed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/zip": unknown;
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many requests: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    change_password_v1_me_password_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PasswordChange"];
            };
        };
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the current password is wrong (counted as a failed login) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many wrong passwords: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    totp_status_v1_me_totp_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TotpStatus"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    begin_totp_v1_me_totp_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TotpBegin"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TotpSecret"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the password is wrong */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description two-factor authentication is on already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many wrong passwords: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    disable_totp_v1_me_totp_delete: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TotpCheck"];
            };
        };
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the password (invalid_credentials) or the code (invalid_second_factor) is wrong */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description two-factor authentication is not on */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many wrong passwords or codes: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    confirm_totp_v1_me_totp_confirm_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TotpConfirm"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RecoveryCodes"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description nothing to confirm (step 1 first) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    replace_recovery_codes_v1_me_totp_recovery_codes_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TotpCheck"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RecoveryCodes"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the password (invalid_credentials) or the code (invalid_second_factor) is wrong */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description two-factor authentication is not on */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many wrong passwords or codes: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    my_usage_v1_me_usage_get: {
        parameters: {
            query?: {
                /** @description first UTC day (default: 29 days before until) */
                since?: string | null;
                /** @description last UTC day (default: today) */
                until?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UsageSummary"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description since after until, or a range over 366 days */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    download_media_v1_media__media_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                media_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": unknown;
                };
            };
            /** @description the part the Range header asked for */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the Range header asks for bytes the file does not have */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    media_url_v1_media__media_id__url_get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                media_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_models_v1_models_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ModelList"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_notifications_v1_notifications_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
                /** @description only the unread ones */
                unread?: boolean;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_notification_v1_notifications__notification_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                notification_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    mark_read_v1_notifications__notification_id__read_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                notification_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_preferences_v1_notifications_preferences_get: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationPreferences"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    set_preferences_v1_notifications_preferences_put: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["NotificationPreferences"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationPreferences"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    mark_all_read_v1_notifications_read_all_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["MarkedRead"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    setup_admin_v1_setup_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SetupRequest"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LoginResponse"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the link is unknown or replaced (code not_found), already used (setup_link_used), or an admin exists already (setup_complete) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description an account with this email exists already */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    check_setup_link_v1_setup__token__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                token: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SetupLinkState"];
                };
            };
            /** @description the link is unknown or replaced (code not_found), already used (setup_link_used), or an admin exists already (setup_complete) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_shares_v1_shares_get: {
        parameters: {
            query?: {
                /** @description only the links to this conversation */
                conversation_id?: string | null;
                cursor?: string | null;
                /** @description only the links to this generation */
                generation_id?: string | null;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SharePage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    create_share_v1_shares_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ShareCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Share"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    revoke_share_v1_shares__share_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                share_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_trained_models_v1_trained_models_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainedModelPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_trained_model_v1_trained_models__model_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainedModel"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    delete_trained_model_v1_trained_models__model_id__delete: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    rename_trained_model_v1_trained_models__model_id__patch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                model_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TrainedModelUpdate"];
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainedModel"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    list_training_v1_training_jobs_get: {
        parameters: {
            query?: {
                cursor?: string | null;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingRunPage"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    start_training_v1_training_jobs_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TrainingCreate"];
            };
        };
        responses: {
            /** @description Successful Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingRun"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the base model cannot run here */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description an empty dataset, or a model that cannot be trained */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many runs at once */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    get_training_v1_training_jobs__run_id__get: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                run_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingRun"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    cancel_training_v1_training_jobs__run_id__cancel_post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                run_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TrainingRun"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the run has already ended */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    transcribe_v1_transcriptions_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": {
                    /**
                     * Format: binary
                     * @description the recording: wav, mp3, ogg/opus, webm, m4a/mp4 or flac, at most STUDIO_MAX_UPLOAD_BYTES; its content must match its declared type
                     */
                    file: string;
                    /**
                     * Language
                     * @description what is spoken, ISO 639-1 (en, de, ...); default: detected
                     */
                    language?: string | null;
                    /**
                     * Model Id
                     * @description a model with the 'transcription' capability (GET /v1/models); default: the first one that can run
                     */
                    model_id?: string | null;
                    /**
                     * Prompt
                     * @description earlier text, or spellings to follow
                     */
                    prompt?: string | null;
                };
            };
        };
        responses: {
            /** @description Successful Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Transcription"];
                };
            };
            /** @description a malformed body (JSON, a multipart form), or a value this API did not issue (a cursor, an event id) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no such model for this caller */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description no model can transcribe here, or this one cannot run (and why) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the file is over STUDIO_MAX_UPLOAD_BYTES */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description not multipart/form-data, or the file is not accepted audio, or not the type it declares */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a field is invalid, the file is missing, or the model does not transcribe */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description rate limit (the chat one) */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the vendor failed; its message says why */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    upload_v1_uploads_post: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description not signed in, or the session or API key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a session cookie without its X-CSRF-Token on an unsafe method */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description too many requests: wait for Retry-After */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
    receive_webhook_v1_webhooks__provider__post: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                provider: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Successful Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description not found, or not the caller's */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is too large */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the request body is not of a type this endpoint takes */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description a value is not valid (details say which) */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
            /** @description the database or the file store is unavailable or busy: retry after Retry-After */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorBody"];
                };
            };
        };
    };
}
