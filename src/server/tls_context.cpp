#include "triserve/server/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string_view>
#include <system_error>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace triserve::server {

namespace {

// Mozilla's "intermediate" profile without its DHE suites: TLS 1.2 with ECDHE key exchange and
// AEAD ciphers only (no CBC: LUCKY13, BEAST), AES-GCM first, for ECDSA and RSA certificates.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3's suites in Mozilla's order: AES-128-GCM first, 40% cheaper than AES-256-GCM (which
// OpenSSL's default order puts first) for a margin no attack needs.
constexpr const char* tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* key_exchange_groups = "X25519:P-256:P-384";

/// What ALPN offers, in the server's order of preference (RFC 7301 §3.1's wire format: each name
/// after its length).
struct alpn_protocols {
  const unsigned char* wire;
  unsigned int size;
};
/// HTTP/2 first ("h2", RFC 9113 §3.2), then HTTP/1.1 ("http/1.1", RFC 7301 §6). Our TLS setup
/// already meets HTTP/2's rules (RFC 9113 §9.2): TLS 1.2 or later, no compression, no
/// renegotiation, and only ephemeral key exchange with AEAD ciphers (none on §9.2.2's list).
constexpr unsigned char h2_then_http11_wire[] = {2,   'h', '2', 8,   'h', 't',
                                                 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char http11_only_wire[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr alpn_protocols h2_then_http11{h2_then_http11_wire, sizeof h2_then_http11_wire};
constexpr alpn_protocols http11_only{http11_only_wire, sizeof http11_only_wire};

/// A certificate chain of ten links is a few tens of KiB; a file far larger is a mistake.
constexpr std::size_t max_pem_file_size = 1024 * 1024;

struct bio_free {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct x509_free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct pkey_free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

/// OpenSSL's most recent error on this thread as text, and the queue emptied: a later handshake
/// on this thread must not find it.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", code);
}

/// The whole file, or tls_setup_error saying why it cannot be read. Read here rather than by
/// OpenSSL, whose errors do not tell a missing file from an unreadable one.
std::unique_ptr<BIO, bio_free> open_file(std::string_view option, const std::string& path) {
  if (path.empty()) throw tls_setup_error(fmt::format("{} is not set", option));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file{std::fopen(path.c_str(), "rb"),
                                                       &std::fclose};
  if (!file)
    throw tls_setup_error(fmt::format("{} {}: cannot read: {}", option, path,
                                      std::generic_category().message(errno)));
  // The bytes may be a private key: the buffer is wiped before it is freed.
  std::unique_ptr<BIO, bio_free> bio{BIO_new(BIO_s_secmem())};
  if (!bio) throw tls_setup_error(fmt::format("{} {}: out of memory", option, path));
  std::array<char, 4096> chunk;
  std::size_t total = 0;
  for (std::size_t got; (got = std::fread(chunk.data(), 1, chunk.size(), file.get())) > 0;) {
    total += got;
    // /dev/zero or a log file given by mistake must not fill the memory.
    if (total > max_pem_file_size) {
      OPENSSL_cleanse(chunk.data(), chunk.size());
      throw tls_setup_error(fmt::format("{} {}: larger than {} KiB: not a PEM certificate or key",
                                        option, path, max_pem_file_size / 1024));
    }
    BIO_write(bio.get(), chunk.data(), static_cast<int>(got));
  }
  OPENSSL_cleanse(chunk.data(), chunk.size());
  if (std::ferror(file.get()) != 0)
    throw tls_setup_error(fmt::format("{} {}: cannot read: {}", option, path,
                                      std::generic_category().message(errno)));
  return bio;
}

/// A key file must never make the daemon stop and ask for a passphrase on its terminal.
int refuse_passphrase(char*, int, int, void*) {
  return -1;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time) {
  std::tm parts{};
  ASN1_TIME_to_tm(time, &parts);
  return std::chrono::system_clock::from_time_t(timegm(&parts));
}

std::string subject_of(X509* certificate) {
  std::unique_ptr<BIO, bio_free> text{BIO_new(BIO_s_mem())};
  X509_NAME_print_ex(text.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(text.get(), &data);
  std::string subject(data, static_cast<std::size_t>(size));
  return subject.empty() ? "(empty subject)" : subject;
}

/// Picks the first of our protocols (`ours`, an alpn_protocols) that the client offers. A client
/// offering ALPN with none of them could not understand our answers: the handshake fails with
/// no_application_protocol (RFC 7301 §3.2), as Go's does.
int select_protocol(SSL*, const unsigned char** out, unsigned char* out_length,
                    const unsigned char* offered, unsigned int offered_length, void* ours) {
  const auto& protocols = *static_cast<const alpn_protocols*>(ours);
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, out_length, protocols.wire, protocols.size, offered,
                            offered_length) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

void tls_context::context_free::operator()(SSL_CTX* context) const {
  SSL_CTX_free(context);
}

tls_context::tls_context(const tls_settings& settings)
    : context_(SSL_CTX_new(TLS_server_method())) {
  if (!context_) throw tls_setup_error(fmt::format("TLS setup: {}", openssl_reason()));
  SSL_CTX* native = context_.get();
  const auto& cert_path = settings.certificate_file;
  const auto& key_path = settings.key_file;

  // The certificate file: the leaf, then its chain.
  auto cert_file = open_file("--tls-cert", cert_path);
  std::unique_ptr<X509, x509_free> leaf{
      PEM_read_bio_X509_AUX(cert_file.get(), nullptr, &refuse_passphrase, nullptr)};
  if (!leaf) {
    ERR_clear_error();
    throw tls_setup_error(fmt::format(
        "--tls-cert {}: no PEM certificate (\"-----BEGIN CERTIFICATE-----\") in it", cert_path));
  }
  if (SSL_CTX_use_certificate(native, leaf.get()) != 1)
    throw tls_setup_error(fmt::format("--tls-cert {}: {}", cert_path, openssl_reason()));
  SSL_CTX_clear_chain_certs(native);
  for (;;) {
    X509* link = PEM_read_bio_X509(cert_file.get(), nullptr, &refuse_passphrase, nullptr);
    if (link == nullptr) break;
    // The context takes ownership of what it adds.
    if (SSL_CTX_add0_chain_cert(native, link) != 1) {
      X509_free(link);
      throw tls_setup_error(fmt::format("--tls-cert {}: chain: {}", cert_path, openssl_reason()));
    }
  }
  // The loop ends at the end of the file, which OpenSSL reports as an error; anything else after
  // the leaf that is not a certificate is one too.
  const unsigned long trailing = ERR_peek_last_error();
  if (trailing != 0 &&
      !(ERR_GET_LIB(trailing) == ERR_LIB_PEM && ERR_GET_REASON(trailing) == PEM_R_NO_START_LINE))
    throw tls_setup_error(fmt::format("--tls-cert {}: chain: {}", cert_path, openssl_reason()));
  ERR_clear_error();

  // The key.
  auto key_file = open_file("--tls-key", key_path);
  std::unique_ptr<EVP_PKEY, pkey_free> key{
      PEM_read_bio_PrivateKey(key_file.get(), nullptr, &refuse_passphrase, nullptr)};
  if (!key) {
    const unsigned long code = ERR_peek_last_error();
    ERR_clear_error();
    const bool encrypted = ERR_GET_LIB(code) == ERR_LIB_PEM &&
                           (ERR_GET_REASON(code) == PEM_R_BAD_PASSWORD_READ ||
                            ERR_GET_REASON(code) == PEM_R_PROBLEMS_GETTING_PASSWORD);
    throw tls_setup_error(
        encrypted ? fmt::format("--tls-key {}: the key is encrypted; give an unencrypted key "
                                "(e.g. openssl pkey -in KEY -out PLAIN)",
                                key_path)
                  : fmt::format("--tls-key {}: no PEM private key (\"-----BEGIN PRIVATE "
                                "KEY-----\") in it",
                                key_path));
  }
  if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    throw tls_setup_error(fmt::format(
        "--tls-key {} does not match the certificate in --tls-cert {}", key_path, cert_path));
  }

  subject_ = subject_of(leaf.get());
  not_after_ = to_time_point(X509_get0_notAfter(leaf.get()));
  // Every verifying client would fail its handshake: a start that looked healthy would be an
  // outage nobody is told about. Refusing makes the service manager (and its alerts) say so.
  if (X509_cmp_current_time(X509_get0_notAfter(leaf.get())) <= 0)
    throw tls_setup_error(
        fmt::format("--tls-cert {}: the certificate ({}) expired on {:%Y-%m-%d "
                    "%H:%M:%S} UTC; renew it",
                    cert_path, subject_, fmt::gmtime(not_after_)));

  if (X509_cmp_current_time(X509_get0_notBefore(leaf.get())) >= 0)
    spdlog::warn(
        "--tls-cert {}: the certificate ({}) is not valid before {:%Y-%m-%d %H:%M:%S} "
        "UTC: clients will refuse it until then (is the clock right?)",
        cert_path, subject_, fmt::gmtime(to_time_point(X509_get0_notBefore(leaf.get()))));

  // The handshake's rules.
  SSL_CTX_set_min_proto_version(
      native, settings.min_version == tls_version::v1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(native, TLS1_3_VERSION);
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(native, tls13_suites) != 1 ||
      SSL_CTX_set1_groups_list(native, key_exchange_groups) != 1)
    throw tls_setup_error(fmt::format("TLS setup: {}", openssl_reason()));
  // No renegotiation (a CPU sink and CVE-2009-3555), no compression (CRIME). A client closing
  // without close_notify is not an error: HTTP's own framing tells a whole message from a cut one.
  // The server's order of ciphers, but ChaCha20 for clients that put it first (no AES hardware).
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                  SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                  SSL_OP_PRIORITIZE_CHACHA);
  // Resumption by tickets only: no server-side session cache growing with every client.
  SSL_CTX_clear_options(native, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_OFF);
  // Record buffers are freed whenever empty, so an idle connection holds none (as nginx does);
  // writes may take less than offered and go on from a moved buffer, like a socket's.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Reads take what the socket holds, not one record header then its body: half the calls.
  SSL_CTX_set_read_ahead(native, 1);
  SSL_CTX_set_alpn_select_cb(
      native, &select_protocol,
      const_cast<alpn_protocols*>(settings.http2 ? &h2_then_http11 : &http11_only));
}

std::string tls_context::describe_expiry() const {
  const auto left = not_after_ - std::chrono::system_clock::now();
  const auto days = std::chrono::duration_cast<std::chrono::hours>(left).count() / 24;
  if (left.count() < 0)
    return fmt::format("expired {:%Y-%m-%d %H:%M:%S} UTC ({} day{} ago)", fmt::gmtime(not_after_),
                       -days, days == -1 ? "" : "s");
  return fmt::format("expires {:%Y-%m-%d %H:%M:%S} UTC (in {} day{})", fmt::gmtime(not_after_),
                     days, days == 1 ? "" : "s");
}

}  // namespace triserve::server
