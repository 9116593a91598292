// The public headers from C++17, built against the *installed* package with
// -Wall -Wextra -pedantic -Werror (tests/install/check-install.sh, via pkg-config and via
// find_package). Uses every header's types and macros the way a C++ caller would; prints the
// same lines as consumer.c so the script can compare the binaries.
#include <nnprobe/nnprobe.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace {

struct net_deleter {
    void operator()(nnp_net *n) const noexcept { nnp_net_free(n); }
};
using net_ptr = std::unique_ptr<nnp_net, net_deleter>;

bool ok(nnp_status s, const char *what)
{
    if (s == NNP_OK) return true;
    std::fprintf(stderr, "consumer++: %s failed: %s (%s)\n", what, nnp_status_name(s),
                 nnp_last_error());
    return false;
}

}  // namespace

int main()
{
    static_assert(NNP_VERSION_NUMBER >= 200, "headers of 0.2.0 or newer");
    if (nnp_version_number() != NNP_VERSION_NUMBER ||
        std::strcmp(nnp_version_string(), NNP_VERSION_STRING) != 0) {
        std::fprintf(stderr, "consumer++: header/library version mismatch\n");
        return 1;
    }
    nnp_net *raw = nullptr;
    if (nnp_net_create(0, 2, 2, &raw) != NNP_EINVAL || raw != nullptr) return 1;
    if (!ok(nnp_net_create(1, 2, 2, &raw), "nnp_net_create")) return 1;
    net_ptr net(raw);
    if (!ok(nnp_net_add_dense(net.get(), 3, nullptr), "add_dense") ||
        !ok(nnp_net_add_activation(net.get(), NNP_LAYER_RELU, nullptr), "add_activation") ||
        !ok(nnp_net_add_dense(net.get(), 2, nullptr), "add_dense") ||
        !ok(nnp_net_init_params(net.get(), 42), "init_params"))
        return 1;

    // options structs through the header macros, and an info struct
    nnp_attack_fgsm_opts fo;
    nnp_lipschitz_opts lo;
    nnp_train_opts to;
    nnp_maxact_optimise_opts mo;
    if (!ok(nnp_attack_fgsm_opts_init(&fo), "fgsm opts") ||
        !ok(nnp_lipschitz_opts_init(&lo), "lipschitz opts") ||
        !ok(nnp_train_opts_init(&to), "train opts") ||
        !ok(nnp_maxact_optimise_opts_init(&mo), "maxact opts"))
        return 1;
    nnp_layer_info li{};
    li.size = sizeof li;
    if (!ok(nnp_net_layer_info(net.get(), 1, &li), "layer_info") || li.kind != NNP_LAYER_DENSE)
        return 1;

    const std::vector<float> x{0.1f, 0.9f, 0.4f, 0.6f};
    std::vector<float> logits(2);
    if (!ok(nnp_net_forward(net.get(), nullptr, x.data(), 1, logits.data()), "forward"))
        return 1;
    std::printf("nnprobe %s (%u)\n", nnp_version_string(), nnp_version_number());
    std::printf("logits %a %a\n", static_cast<double>(logits[0]), static_cast<double>(logits[1]));
    return 0;
}
