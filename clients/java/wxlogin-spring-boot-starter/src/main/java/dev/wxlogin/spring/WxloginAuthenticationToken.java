package dev.wxlogin.spring;

import java.util.Collection;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.oauth2.jwt.Jwt;

/** A verified wxlogin token: the principal is a {@link WxloginPrincipal}, the credentials the JWT. */
public class WxloginAuthenticationToken extends AbstractAuthenticationToken {

    private final WxloginPrincipal principal;
    private final Jwt jwt;

    public WxloginAuthenticationToken(
            WxloginPrincipal principal, Jwt jwt, Collection<? extends GrantedAuthority> authorities) {
        super(authorities);
        this.principal = principal;
        this.jwt = jwt;
        setAuthenticated(true);
    }

    @Override
    public WxloginPrincipal getPrincipal() {
        return principal;
    }

    /** The verified token itself (its claims, its raw value). */
    @Override
    public Jwt getCredentials() {
        return jwt;
    }

    @Override
    public String getName() {
        return principal.userId();
    }
}
