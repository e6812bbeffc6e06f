package dev.wxlogin.spring;

import static org.assertj.core.api.Assertions.assertThat;

import dev.wxlogin.spring.admin.WxloginAdminClient;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.security.oauth2.resource.servlet.OAuth2ResourceServerAutoConfiguration;
import org.springframework.boot.autoconfigure.security.servlet.SecurityAutoConfiguration;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.security.oauth2.jwt.JwtDecoder;
import org.springframework.security.web.SecurityFilterChain;

/** What the auto-configuration adds, and the settings it refuses to start with. */
class AutoConfigurationTest {

    final WebApplicationContextRunner runner = new WebApplicationContextRunner().withConfiguration(
            AutoConfigurations.of(WxloginAutoConfiguration.class, SecurityAutoConfiguration.class,
                    OAuth2ResourceServerAutoConfiguration.class));

    @Test
    void without_an_issuer_or_jwks_it_adds_no_resource_server() {
        runner.run(context -> {
            assertThat(context).hasNotFailed();
            assertThat(context).doesNotHaveBean(JwtDecoder.class);
            assertThat(context).doesNotHaveBean(WxloginAdminClient.class);
        });
    }

    @Test
    void with_the_two_properties_it_adds_the_decoder_and_one_filter_chain_without_calling_the_server() {
        // Port 9 (discard) answers nothing: the decoder is built on first use, not at start.
        runner.withPropertyValues("wxlogin.issuer-uri=http://127.0.0.1:9", "wxlogin.audiences=wx1111111111111111")
                .run(context -> {
                    assertThat(context).hasNotFailed();
                    assertThat(context).hasSingleBean(JwtDecoder.class);
                    assertThat(context).hasSingleBean(SecurityFilterChain.class);
                    assertThat(context).hasBean("wxloginSecurityFilterChain");
                });
    }

    @Test
    void no_audience_is_refused_at_start() {
        runner.withPropertyValues("wxlogin.issuer-uri=http://127.0.0.1:9")
                .run(context -> assertThat(context).getFailure().rootCause()
                        .hasMessageContaining("wxlogin.audiences is empty"));
    }

    @Test
    void introspection_without_an_admin_key_is_refused_at_start() {
        runner.withPropertyValues("wxlogin.issuer-uri=http://127.0.0.1:9", "wxlogin.audiences=wx1111111111111111",
                        "wxlogin.introspect=true")
                .run(context -> assertThat(context).getFailure().rootCause()
                        .hasMessageContaining("wxlogin.admin-key"));
    }

    @Test
    void an_admin_key_gives_an_admin_client_at_the_issuer() {
        runner.withPropertyValues("wxlogin.issuer-uri=http://127.0.0.1:9/", "wxlogin.audiences=wx1111111111111111",
                        "wxlogin.admin-key=wxa_test")
                .run(context -> assertThat(context).hasSingleBean(WxloginAdminClient.class));
    }
}
