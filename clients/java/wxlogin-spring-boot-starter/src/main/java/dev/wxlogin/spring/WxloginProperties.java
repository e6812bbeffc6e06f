package dev.wxlogin.spring;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code wxlogin.*} settings. Two are enough for a resource server: {@code issuer-uri}
 * (the server's {@code --issuer}, its public URL, whose discovery document names the JWKS)
 * and {@code audiences} (the appids whose tokens this service takes).
 */
@ConfigurationProperties("wxlogin")
public class WxloginProperties {

    /**
     * The wxlogin server's {@code --issuer}: every token's {@code iss} must equal it. When
     * {@code jwk-set-uri} is not set it must be the server's absolute URL, and the JWKS is
     * found through its {@code /.well-known/openid-configuration}.
     */
    private String issuerUri;

    /**
     * The JWKS URL ({@code <server>/.well-known/jwks.json}), for a server whose issuer is not
     * its URL. {@code issuer-uri} beside it is then only compared with {@code iss}.
     */
    private String jwkSetUri;

    /** The appids (the tokens' {@code aud}) this service accepts; at least one. */
    private List<String> audiences = new ArrayList<>();

    /**
     * Ask the server ({@code POST /v1/introspect}, with {@code admin-key}) whether a token's
     * session is still live, so that a logout or a revoke is seen within
     * {@code introspection-cache-ttl} instead of at the token's expiry.
     */
    private boolean introspect = false;

    /** How long an introspection answer (live or not) is reused for the same token. */
    private Duration introspectionCacheTtl = Duration.ofSeconds(10);

    /**
     * How far past {@code exp} (and before {@code iat}) a token is still taken, for clock
     * differences between machines. Every second added here is added to a stolen token's life.
     */
    private Duration clockSkew = Duration.ofSeconds(30);

    /**
     * An admin API key ({@code wxlogin admin-keys create}): scope {@code tokens:introspect} for
     * introspection, {@code users:*} / {@code events:read} for {@code WxloginAdminClient}.
     */
    private String adminKey;

    /**
     * The server's base URL for introspection and the admin API; defaults to
     * {@code issuer-uri} when that is a URL, else to {@code jwk-set-uri} less its path.
     */
    private String baseUrl;

    /** The base URL to call, from {@code base-url}, {@code issuer-uri} or {@code jwk-set-uri}. */
    public URI resolvedBaseUrl() {
        if (hasText(baseUrl)) {
            return URI.create(stripSlash(baseUrl));
        }
        if (hasText(issuerUri) && (issuerUri.startsWith("http://") || issuerUri.startsWith("https://"))) {
            return URI.create(stripSlash(issuerUri));
        }
        if (hasText(jwkSetUri)) {
            URI jwks = URI.create(jwkSetUri);
            return URI.create(jwks.getScheme() + "://" + jwks.getRawAuthority());
        }
        return null;
    }

    static boolean hasText(String value) {
        return value != null && !value.isBlank();
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    public String getIssuerUri() {
        return issuerUri;
    }

    public void setIssuerUri(String issuerUri) {
        this.issuerUri = issuerUri;
    }

    public String getJwkSetUri() {
        return jwkSetUri;
    }

    public void setJwkSetUri(String jwkSetUri) {
        this.jwkSetUri = jwkSetUri;
    }

    public List<String> getAudiences() {
        return audiences;
    }

    public void setAudiences(List<String> audiences) {
        this.audiences = audiences;
    }

    public boolean isIntrospect() {
        return introspect;
    }

    public void setIntrospect(boolean introspect) {
        this.introspect = introspect;
    }

    public Duration getIntrospectionCacheTtl() {
        return introspectionCacheTtl;
    }

    public void setIntrospectionCacheTtl(Duration introspectionCacheTtl) {
        this.introspectionCacheTtl = introspectionCacheTtl;
    }

    public Duration getClockSkew() {
        return clockSkew;
    }

    public void setClockSkew(Duration clockSkew) {
        this.clockSkew = clockSkew;
    }

    public String getAdminKey() {
        return adminKey;
    }

    public void setAdminKey(String adminKey) {
        this.adminKey = adminKey;
    }

    public String getBaseUrl() {
        return baseUrl;
    }

    public void setBaseUrl(String baseUrl) {
        this.baseUrl = baseUrl;
    }
}
