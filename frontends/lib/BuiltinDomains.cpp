//===- BuiltinDomains.cpp - the frontends compiled into the tools ---------===//
#include "sbpf/Frontend/Domain.h"
#ifdef SBPF_WITH_APPNET
#include "sbpf/AppNet/AppNetDomain.h"
#endif

namespace sbpf {

std::vector<std::unique_ptr<Domain>> createBuiltinDomains() {
  std::vector<std::unique_ptr<Domain>> domains;
#ifdef SBPF_WITH_APPNET
  domains.push_back(appnet::createAppNetDomain());
#endif
  return domains;
}

const Domain *findDomainForFile(const std::vector<std::unique_ptr<Domain>> &domains,
                                llvm::StringRef path) {
  for (const auto &domain : domains)
    for (const std::string &ext : domain->fileExtensions())
      if (path.ends_with(ext))
        return domain.get();
  return nullptr;
}

} // namespace sbpf
