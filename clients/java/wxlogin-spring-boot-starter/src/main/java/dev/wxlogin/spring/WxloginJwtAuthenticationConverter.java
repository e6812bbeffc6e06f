package dev.wxlogin.spring;

import java.util.Collection;
import java.util.List;
import org.springframework.core.convert.converter.Converter;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.oauth2.jwt.Jwt;

/**
 * Turns a verified token into a {@link WxloginAuthenticationToken}, with the {@code roles}
 * claim as {@code ROLE_<role>} authorities.
 *
 * <p>The starter's filter chain uses it; an app with its own {@code SecurityFilterChain}
 * passes the bean: {@code .oauth2ResourceServer(s -> s.jwt(j -> j.jwtAuthenticationConverter(converter)))}.
 */
public class WxloginJwtAuthenticationConverter implements Converter<Jwt, AbstractAuthenticationToken> {

    private static Collection<GrantedAuthority> authoritiesOf(Jwt jwt) {
        return rolesOf(jwt).stream()
                .<GrantedAuthority>map(role -> new SimpleGrantedAuthority("ROLE_" + role))
                .toList();
    }

    @Override
    public AbstractAuthenticationToken convert(Jwt jwt) {
        List<String> roles = rolesOf(jwt);
        WxloginPrincipal principal = new WxloginPrincipal(
                jwt.getSubject(), firstAudience(jwt), jwt.getClaimAsString("sid"), roles);
        return new WxloginAuthenticationToken(principal, jwt, authoritiesOf(jwt));
    }

    private static String firstAudience(Jwt jwt) {
        List<String> audiences = jwt.getAudience();
        return audiences == null || audiences.isEmpty() ? null : audiences.get(0);
    }

    private static List<String> rolesOf(Jwt jwt) {
        List<String> roles = jwt.getClaimAsStringList("roles");
        return roles == null ? List.of() : roles;
    }
}
