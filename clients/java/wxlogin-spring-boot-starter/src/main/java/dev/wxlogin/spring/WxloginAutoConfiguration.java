package dev.wxlogin.spring;

import dev.wxlogin.spring.admin.WxloginAdminClient;
import java.net.URI;
import java.time.Clock;
import java.util.LinkedHashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.autoconfigure.security.ConditionalOnDefaultWebSecurity;
import org.springframework.boot.autoconfigure.security.oauth2.resource.servlet.OAuth2ResourceServerAutoConfiguration;
import org.springframework.boot.autoconfigure.security.servlet.SecurityAutoConfiguration;
import org.springframework.boot.autoconfigure.security.servlet.UserDetailsServiceAutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.oauth2.core.OAuth2TokenValidator;
import org.springframework.security.oauth2.jose.jws.SignatureAlgorithm;
import org.springframework.security.oauth2.jwt.Jwt;
import org.springframework.security.oauth2.jwt.JwtDecoder;
import org.springframework.security.oauth2.jwt.NimbusJwtDecoder;
import org.springframework.security.oauth2.jwt.SupplierJwtDecoder;
import org.springframework.security.web.SecurityFilterChain;

/**
 * With {@code wxlogin.issuer-uri} or {@code wxlogin.jwk-set-uri} set: a {@link JwtDecoder}
 * that takes only ES256 wxlogin tokens of this issuer and these appids, the
 * {@link WxloginPrincipal} as the principal, and (unless the app has its own) a stateless
 * filter chain where every request needs such a token. It runs before Spring Boot's own
 * resource server and security defaults, which then step aside.
 *
 * <p>Only ES256: Spring Security's Nimbus decoder has no Ed25519 (EdDSA) verifier, so keep
 * the server on its ES256 default while Spring services consume its tokens.
 */
@AutoConfiguration(before = {
    OAuth2ResourceServerAutoConfiguration.class,
    SecurityAutoConfiguration.class,
    UserDetailsServiceAutoConfiguration.class
})
@EnableConfigurationProperties(WxloginProperties.class)
public class WxloginAutoConfiguration {

    private static final Logger log = LoggerFactory.getLogger(WxloginAutoConfiguration.class);

    /** The admin API client, when an admin key and a server URL are known. */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnExpression("'${wxlogin.admin-key:}' != ''")
    WxloginAdminClient wxloginAdminClient(WxloginProperties properties) {
        URI baseUrl = properties.resolvedBaseUrl();
        if (baseUrl == null) {
            throw new IllegalStateException("wxlogin.admin-key is set but not the server's URL: set wxlogin.base-url");
        }
        return new WxloginAdminClient(baseUrl, properties.getAdminKey());
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnExpression("'${wxlogin.issuer-uri:}' != '' or '${wxlogin.jwk-set-uri:}' != ''")
    static class ResourceServer {

        @Bean
        @ConditionalOnMissingBean
        WxloginJwtAuthenticationConverter wxloginJwtAuthenticationConverter() {
            return new WxloginJwtAuthenticationConverter();
        }

        @Bean
        @ConditionalOnMissingBean
        JwtDecoder wxloginJwtDecoder(WxloginProperties properties, ObjectProvider<WxloginAdminClient> adminClient) {
            Set<String> audiences = new LinkedHashSet<>(properties.getAudiences());
            audiences.removeIf(a -> !WxloginProperties.hasText(a));
            if (audiences.isEmpty()) {
                throw new IllegalStateException(
                        "wxlogin.audiences is empty: name the appids whose tokens this service accepts");
            }
            String issuer = WxloginProperties.hasText(properties.getIssuerUri()) ? properties.getIssuerUri() : null;
            if (issuer == null) {
                log.warn("wxlogin.issuer-uri is not set: tokens' iss is not checked; set it to the server's --issuer");
            }
            OAuth2TokenValidator<Jwt> validator =
                    WxloginTokenValidators.offline(issuer, audiences, properties.getClockSkew());
            if (properties.isIntrospect()) {
                WxloginAdminClient client = adminClient.getIfAvailable();
                if (client == null) {
                    throw new IllegalStateException(
                            "wxlogin.introspect=true needs wxlogin.admin-key (an admin key with scope tokens:introspect)");
                }
                validator = WxloginTokenValidators.inOrder(validator, new IntrospectionValidator(
                        client, properties.getIntrospectionCacheTtl(), Clock.systemUTC()));
            }
            OAuth2TokenValidator<Jwt> validators = validator;
            String jwkSetUri = properties.getJwkSetUri();
            // Built on first use: the app starts even while the login server is not up yet.
            return new SupplierJwtDecoder(() -> {
                NimbusJwtDecoder.JwkSetUriJwtDecoderBuilder builder = WxloginProperties.hasText(jwkSetUri)
                        ? NimbusJwtDecoder.withJwkSetUri(jwkSetUri)
                        : NimbusJwtDecoder.withIssuerLocation(issuer);
                NimbusJwtDecoder decoder = builder.jwsAlgorithm(SignatureAlgorithm.ES256).build();
                decoder.setJwtValidator(validators);
                return decoder;
            });
        }

        @Bean
        @ConditionalOnDefaultWebSecurity
        @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
        SecurityFilterChain wxloginSecurityFilterChain(
                HttpSecurity http, WxloginJwtAuthenticationConverter converter) throws Exception {
            http.authorizeHttpRequests(requests -> requests.anyRequest().authenticated())
                    .sessionManagement(session -> session.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                    // Bearer tokens, no cookies: nothing for a cross-site request to ride on.
                    .csrf(csrf -> csrf.disable())
                    .oauth2ResourceServer(server -> server.jwt(jwt -> jwt.jwtAuthenticationConverter(converter)));
            return http.build();
        }
    }
}
