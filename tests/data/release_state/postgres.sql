--
-- PostgreSQL database dump
--

\restrict 4zdevOd32Fc0Jjoc9UYfl1f0MXi7CwXNIMGtHQRGvKf3o68MvV75a0K5l2h04lr

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: mjv; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA mjv;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: attempts; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.attempts (
    campaign text NOT NULL,
    key text NOT NULL,
    attempt integer NOT NULL,
    task_id text,
    reserved bigint DEFAULT 0 NOT NULL,
    charged bigint DEFAULT 0 NOT NULL,
    refunded bigint DEFAULT 0 NOT NULL,
    outcome text,
    reason text,
    started_at double precision NOT NULL,
    sent_key text
);


--
-- Name: campaigns; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.campaigns (
    campaign text NOT NULL,
    reserved bigint DEFAULT 0 NOT NULL,
    charged bigint DEFAULT 0 NOT NULL,
    refunded bigint DEFAULT 0 NOT NULL
);


--
-- Name: file_versions; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.file_versions (
    campaign text NOT NULL,
    key text NOT NULL,
    attempt integer NOT NULL,
    idx integer NOT NULL,
    name text NOT NULL,
    url text NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL,
    replaced_at double precision NOT NULL
);


--
-- Name: files; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.files (
    campaign text NOT NULL,
    key text NOT NULL,
    idx integer NOT NULL,
    name text NOT NULL,
    url text NOT NULL,
    sha256 text NOT NULL,
    size bigint NOT NULL
);


--
-- Name: holds; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.holds (
    campaign text NOT NULL,
    owner text NOT NULL,
    amount bigint NOT NULL,
    until double precision NOT NULL
);


--
-- Name: meta; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.meta (
    name text NOT NULL,
    value text NOT NULL
);


--
-- Name: slots; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.slots (
    account text NOT NULL,
    slot integer NOT NULL,
    owner text,
    until double precision
);


--
-- Name: submissions; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.submissions (
    campaign text NOT NULL,
    key text NOT NULL,
    job text NOT NULL,
    kind text NOT NULL,
    step integer NOT NULL,
    parent text,
    status text NOT NULL,
    attempt integer DEFAULT 0 NOT NULL,
    task_id text,
    failure text,
    reason text,
    clip_urls text DEFAULT '[]'::text NOT NULL,
    image_url text,
    lease_owner text,
    lease_until double precision,
    updated_at double precision NOT NULL,
    request text,
    CONSTRAINT submissions_failure_check CHECK ((failure = ANY (ARRAY['retryable'::text, 'final'::text]))),
    CONSTRAINT submissions_kind_check CHECK ((kind = ANY (ARRAY['video'::text, 'extend'::text, 'imagine'::text, 'upscale'::text, 'upload'::text]))),
    CONSTRAINT submissions_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'submitting'::text, 'submitted'::text, 'running'::text, 'succeeded'::text, 'downloaded'::text, 'failed'::text])))
);


--
-- Name: uploads; Type: TABLE; Schema: mjv; Owner: -
--

CREATE TABLE mjv.uploads (
    sha256 text NOT NULL,
    url text NOT NULL,
    recorded_at double precision NOT NULL
);


--
-- Data for Name: attempts; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.attempts VALUES ('demo', 'k-done', 1, 'task-1', 0, 300000, 0, 'succeeded', NULL, 1796162785.57942, 'k-done-a1');
INSERT INTO mjv.attempts VALUES ('demo', 'k-doubt', 1, NULL, 250000, 0, 0, NULL, NULL, 1796162785.585881, 'k-doubt-a1');
INSERT INTO mjv.attempts VALUES ('demo', 'k-failed', 1, 'task-3', 0, 500000, 500000, 'failed', 'FAILURE: boom', 1796162785.586896, 'k-failed-a1');
INSERT INTO mjv.attempts VALUES ('demo', 'k-upload', 1, 'https://img/cat.png', 0, 10000, 0, 'succeeded', NULL, 1796162785.590035, 'k-upload-a1');


--
-- Data for Name: campaigns; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.campaigns VALUES ('demo', 250000, 810000, 500000);


--
-- Data for Name: file_versions; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.file_versions VALUES ('demo', 'k-done', 1, 0, 'clip-0.mp4', 'https://cdn/old.mp4', '0000000000000000000000000000000000000000000000000000000000000000', 10, 1796162785.584739);


--
-- Data for Name: files; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.files VALUES ('demo', 'k-done', 0, 'clip-0.mp4', 'https://cdn/a0.mp4', 'abababababababababababababababababababababababababababababababab', 123);


--
-- Data for Name: holds; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.holds VALUES ('demo', 'elsewhere:1:feed', 400000, 2796162785.594618);


--
-- Data for Name: meta; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.meta VALUES ('schema_version', '1');


--
-- Data for Name: slots; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.slots VALUES ('account-1', 1, NULL, NULL);
INSERT INTO mjv.slots VALUES ('account-1', 2, NULL, NULL);
INSERT INTO mjv.slots VALUES ('account-1', 3, NULL, NULL);
INSERT INTO mjv.slots VALUES ('account-1', 0, 'elsewhere:1:feed', 2796162785.5936832);


--
-- Data for Name: submissions; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.submissions VALUES ('demo', 'k-pending', 'pending-job', 'imagine', 0, NULL, 'pending', 0, NULL, NULL, NULL, '[]', NULL, NULL, NULL, 1796162785.576747, NULL);
INSERT INTO mjv.submissions VALUES ('demo', 'k-done', 'done-job', 'video', 0, NULL, 'downloaded', 1, 'task-1', NULL, NULL, '["https://cdn/a0.mp4", "https://cdn/a1.mp4"]', NULL, 'elsewhere:1:feed', 2796162785.577339, 1796162785.585364, '{"prompt": "a"}');
INSERT INTO mjv.submissions VALUES ('demo', 'k-doubt', 'doubt-job', 'video', 0, NULL, 'submitting', 1, NULL, NULL, NULL, '[]', NULL, 'elsewhere:1:feed', 2796162785.5778437, 1796162785.58643, '{"prompt": "b"}');
INSERT INTO mjv.submissions VALUES ('demo', 'k-failed', 'failed-job', 'video', 0, NULL, 'failed', 1, 'task-3', 'retryable', 'FAILURE: boom', '[]', NULL, 'elsewhere:1:feed', 2796162785.578137, 1796162785.589571, NULL);
INSERT INTO mjv.submissions VALUES ('demo', 'k-upload', 'cat.png', 'upload', 0, NULL, 'succeeded', 1, 'https://img/cat.png', NULL, NULL, '[]', 'https://img/cat.png', 'elsewhere:1:feed', 2796162785.578414, 1796162785.591937, NULL);
INSERT INTO mjv.submissions VALUES ('demo', 'k-ext', 'done-job', 'extend', 1, 'k-done', 'pending', 0, NULL, NULL, NULL, '[]', NULL, NULL, NULL, 1796162785.576624, '{"prompt": "a", "step": 1}');
INSERT INTO mjv.submissions VALUES ('other', 'k-other', 'other-job', 'video', 0, NULL, 'pending', 0, NULL, NULL, NULL, '[]', NULL, NULL, NULL, 1796162785.604227, NULL);


--
-- Data for Name: uploads; Type: TABLE DATA; Schema: mjv; Owner: -
--

INSERT INTO mjv.uploads VALUES ('cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd', 'https://img/cat.png', 1796162785.592289);


--
-- Name: attempts attempts_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.attempts
    ADD CONSTRAINT attempts_pkey PRIMARY KEY (campaign, key, attempt);


--
-- Name: campaigns campaigns_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.campaigns
    ADD CONSTRAINT campaigns_pkey PRIMARY KEY (campaign);


--
-- Name: file_versions file_versions_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.file_versions
    ADD CONSTRAINT file_versions_pkey PRIMARY KEY (campaign, key, attempt, idx);


--
-- Name: files files_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.files
    ADD CONSTRAINT files_pkey PRIMARY KEY (campaign, key, idx);


--
-- Name: holds holds_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.holds
    ADD CONSTRAINT holds_pkey PRIMARY KEY (campaign, owner);


--
-- Name: meta meta_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.meta
    ADD CONSTRAINT meta_pkey PRIMARY KEY (name);


--
-- Name: slots slots_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.slots
    ADD CONSTRAINT slots_pkey PRIMARY KEY (account, slot);


--
-- Name: submissions submissions_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.submissions
    ADD CONSTRAINT submissions_pkey PRIMARY KEY (campaign, key);


--
-- Name: uploads uploads_pkey; Type: CONSTRAINT; Schema: mjv; Owner: -
--

ALTER TABLE ONLY mjv.uploads
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (sha256);


--
-- Name: submissions_by_lease; Type: INDEX; Schema: mjv; Owner: -
--

CREATE INDEX submissions_by_lease ON mjv.submissions USING btree (lease_owner, campaign) WHERE (lease_owner IS NOT NULL);


--
-- PostgreSQL database dump complete
--

\unrestrict 4zdevOd32Fc0Jjoc9UYfl1f0MXi7CwXNIMGtHQRGvKf3o68MvV75a0K5l2h04lr

