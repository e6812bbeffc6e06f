package dev.wxlogin.spring;

import dev.wxlogin.spring.admin.Introspection;
import dev.wxlogin.spring.admin.WxloginAdminClient;
import dev.wxlogin.spring.admin.WxloginApiException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.security.oauth2.core.OAuth2TokenValidator;
import org.springframework.security.oauth2.core.OAuth2TokenValidatorResult;
import org.springframework.security.oauth2.jwt.Jwt;

/**
 * Asks the server ({@code POST /v1/introspect}) whether a token's session is still live, so
 * a logout or an admin's revoke is seen at once rather than at the token's {@code exp}.
 *
 * <p>Answers are kept for a short TTL, keyed by the token's SHA-256 (never the token
 * itself), so a client's repeated calls cost one round trip per TTL. When the server cannot
 * be asked, the token is refused: a service that turned this on asked to see revocations,
 * and taking every token while the server is away would silently undo that.
 */
public class IntrospectionValidator implements OAuth2TokenValidator<Jwt> {

    private static final Logger log = LoggerFactory.getLogger(IntrospectionValidator.class);
    /** Beyond this many remembered answers the expired ones go, then all: memory stays bounded. */
    static final int MAX_CACHED = 10_000;

    private record Answer(boolean active, Instant until) {}

    private final WxloginAdminClient client;
    private final Duration ttl;
    private final Clock clock;
    private final ConcurrentHashMap<String, Answer> cache = new ConcurrentHashMap<>();

    public IntrospectionValidator(WxloginAdminClient client, Duration ttl, Clock clock) {
        this.client = client;
        this.ttl = ttl;
        this.clock = clock;
    }

    @Override
    public OAuth2TokenValidatorResult validate(Jwt jwt) {
        String key = sha256(jwt.getTokenValue());
        Instant now = clock.instant();
        Answer answer = cache.get(key);
        if (answer == null || !now.isBefore(answer.until())) {
            try {
                Introspection introspection = client.introspect(jwt.getTokenValue());
                answer = new Answer(introspection.active(), now.plus(ttl));
            } catch (WxloginApiException | java.io.UncheckedIOException e) {
                log.warn("token introspection failed, refusing the token: {}", e.getMessage());
                return WxloginTokenValidators.invalid("the session could not be checked");
            }
            remember(key, answer, now);
        }
        return answer.active()
                ? OAuth2TokenValidatorResult.success()
                : WxloginTokenValidators.invalid("the session has ended");
    }

    private void remember(String key, Answer answer, Instant now) {
        if (cache.size() >= MAX_CACHED) {
            cache.values().removeIf(a -> !now.isBefore(a.until()));
            if (cache.size() >= MAX_CACHED) {
                cache.clear();
            }
        }
        cache.put(key, answer);
    }

    private static String sha256(String token) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java has SHA-256", e);
        }
    }
}
