package dev.wxlogin.spring;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.springframework.security.oauth2.core.DelegatingOAuth2TokenValidator;
import org.springframework.security.oauth2.core.OAuth2Error;
import org.springframework.security.oauth2.core.OAuth2TokenValidator;
import org.springframework.security.oauth2.core.OAuth2TokenValidatorResult;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.JwtClaimNames;
import org.springframework.security.oauth2.jwt.JwtClaimValidator;
import org.springframework.security.oauth2.jwt.JwtIssuerValidator;
import org.springframework.security.oauth2.jwt.JwtTimestampValidator;

/**
 * The claim checks of docs/integrate.md, offline: {@code iss} is the server's issuer,
 * {@code aud} one of the configured appids, {@code exp} present and not past (with a short
 * clock skew), {@code sub} and {@code sid} present. Spring's own default (only the
 * timestamps, 60 s of skew, {@code exp} optional) is not enough.
 */
public final class WxloginTokenValidators {

    private WxloginTokenValidators() {}

    public static OAuth2TokenValidator<Jwt> offline(String issuer, Set<String> audiences, Duration clockSkew) {
        List<OAuth2TokenValidator<Jwt>> checks = new ArrayList<>();
        checks.add(new JwtClaimValidator<Object>(JwtClaimNames.EXP, Objects::nonNull));
        checks.add(new JwtTimestampValidator(clockSkew));
        if (issuer != null) {
            checks.add(new JwtIssuerValidator(issuer));
        }
        checks.add(new JwtClaimValidator<List<String>>(
                JwtClaimNames.AUD, aud -> aud != null && aud.stream().anyMatch(audiences::contains)));
        checks.add(new JwtClaimValidator<String>(JwtClaimNames.SUB, WxloginProperties::hasText));
        checks.add(new JwtClaimValidator<String>("sid", WxloginProperties::hasText));
        return new DelegatingOAuth2TokenValidator<>(checks);
    }

    /**
     * {@code first}, and {@code then} only for a token {@code first} accepted: an expired or
     * other-app token costs no call to the server.
     */
    public static OAuth2TokenValidator<Jwt> inOrder(OAuth2TokenValidator<Jwt> first, OAuth2TokenValidator<Jwt> then) {
        return jwt -> {
            OAuth2TokenValidatorResult result = first.validate(jwt);
            return result.hasErrors() ? result : then.validate(jwt);
        };
    }

    static OAuth2TokenValidatorResult invalid(String description) {
        return OAuth2TokenValidatorResult.failure(new OAuth2Error("invalid_token", description, null));
    }
}
