import QtQuick
import QtTest
import Custodia

Item {
    id: stage
    width: 480
    height: 900

    Component {
        id: pageComponent
        SettingsPage {}
    }
    Component {
        id: casesComponent
        CasesModel {}
    }

    TestCase {
        id: testCase
        name: "Settings"
        when: windowShown

        function makePage(vault) {
            const page = createTemporaryObject(pageComponent, stage,
                                               { vault: vault, width: stage.width, height: stage.height });
            verify(page !== null);
            waitForRendering(page);
            return page;
        }

        function test_shows_investigator_and_device_key() {
            const vault = support.unlockedVault("settings passphrase 1");
            const page = makePage(vault);
            compare(findChild(page, "deviceKeyText").text, vault.deviceKey);
            verify(vault.deviceKey.startsWith("RW"), "a minisign Ed25519 public key: " + vault.deviceKey);
        }

        function test_auto_lock_minutes_follow_the_spin_box() {
            const vault = support.unlockedVault("settings passphrase 2");
            const page = makePage(vault);
            const spin = findChild(page, "autoLockSpin");
            compare(spin.value, 5);
            spin.forceActiveFocus();
            keyClick(Qt.Key_Up);
            compare(vault.autoLockMinutes, 6);
            vault.autoLockMinutes = 500;
            compare(vault.autoLockMinutes, 120, "at most two hours");
        }

        function test_lock_now_locks_and_empties_the_lists() {
            const vault = support.unlockedVault("settings passphrase 3");
            support.addCase(vault, "A case");
            const cases = createTemporaryObject(casesComponent, testCase, { vault: vault });
            tryCompare(cases, "count", 1, 10000);
            const page = makePage(vault);
            mouseClick(findChild(page, "lockNowButton"));
            compare(vault.state, VaultModel.Locked);
            compare(cases.count, 0, "nothing from the vault stays on screen");
            compare(vault.deviceKey, "");
            compare(vault.investigator, "");
            verify(support.addCase(vault, "refused") === "", "no vault call runs once locked");
        }

        function test_auto_lock_after_inactivity() {
            const vault = support.unlockedVault("settings passphrase 4");
            support.setAutoLockMs(vault, 300);
            tryCompare(vault, "state", VaultModel.Locked, 5000);
        }

        function test_input_postpones_auto_lock() {
            const vault = support.unlockedVault("settings passphrase 5");
            const page = makePage(vault);
            support.setAutoLockMs(vault, 600);
            for (let i = 0; i < 8; ++i) {
                wait(150);
                mouseClick(page, 10, 10);  // any input counts as activity
            }
            compare(vault.state, VaultModel.Unlocked, "1.2 s of use did not lock");
            tryCompare(vault, "state", VaultModel.Locked, 5000);
        }
    }
}
